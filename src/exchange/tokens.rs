//! API tokens: `pxh_<id>_<secret>`. The id finds the row; only the secret's
//! SHA-256 is stored, and it is compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ExchangeError, Hub};
use crate::catalog::Transaction;
use crate::catalog::{stations, tokens, webhooks};
use crate::domain::{PersonId, PersonRole, Role, StationId, StationKind, Viewer};

const PREFIX: &str = "pxh_";
const ID_HEX: usize = 16;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    pub station: Option<StationId>,
    pub station_kind: Option<StationKind>,
    /// The person acting, when a person (not a machine's token) is.
    pub person: Option<PersonRef>,
}

/// The person behind a caller: whose name goes with what they did.
#[derive(Debug, Clone)]
pub struct PersonRef {
    pub id: PersonId,
    pub name: String,
    pub role: PersonRole,
}

impl Caller {
    /// The hub's operator at the command line: an admin without a token.
    pub fn operator() -> Self {
        Self {
            token_id: "command-line".into(),
            role: Role::Admin,
            station: None,
            station_kind: None,
            person: None,
        }
    }

    /// Whether the caller may offer programs: tokens may, and people whose
    /// role says so (a viewer finds and takes only).
    pub fn may_offer(&self) -> bool {
        !self.is_peer() && self.person.as_ref().is_none_or(|p| p.role.may_offer())
    }

    /// Whether the caller is another cluster's hub.
    pub fn is_peer(&self) -> bool {
        self.role == Role::Peer || self.station_kind == Some(StationKind::Peer)
    }

    /// The acting person's id, if a person acts.
    pub fn person_id(&self) -> Option<PersonId> {
        self.person.as_ref().map(|p| p.id.clone())
    }

    pub fn viewer(&self) -> Viewer {
        match (&self.station, self.role) {
            (Some(id), _) if self.is_peer() => Viewer::Peer { id: id.clone() },
            (Some(id), Role::Station | Role::National) => Viewer::Station {
                id: id.clone(),
                national: self.station_kind == Some(StationKind::National),
            },
            _ => Viewer::Admin,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A freshly issued token: `token` is shown once and never stored.
#[derive(Debug)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub station: Option<StationId>,
    pub role: Role,
    pub label: String,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Splits `pxh_<16 hex>_<secret>`.
fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = (rest.get(..ID_HEX)?, rest.get(ID_HEX..)?.strip_prefix('_')?);
    let id_ok = id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    (id_ok && !secret.is_empty()).then_some((id, secret))
}

/// Issues a token for `station` (or for the hub operator when `None`).
/// The role defaults to what the station's kind implies.
pub(super) fn issue(
    tx: &Transaction<'_>,
    station: Option<&StationId>,
    role: Option<Role>,
    label: &str,
) -> Result<IssuedToken, ExchangeError> {
    let kind = match station {
        Some(id) => Some(stations::get(tx, id)?.ok_or(ExchangeError::NotFound)?.kind),
        None => None,
    };
    let role = role.unwrap_or(kind.map_or(Role::Admin, StationKind::default_role));
    role.fits(kind).map_err(|e| ExchangeError::invalid("role", e))?;
    let label = crate::domain::text::tidy(label, false).map_err(|why| ExchangeError::invalid("label", why))?;
    if label.chars().count() > 200 {
        return Err(ExchangeError::invalid("label", "must be at most 200 characters"));
    }
    let mut id_bytes = [0u8; ID_HEX / 2];
    let mut secret_bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    rand::rngs::OsRng.fill_bytes(&mut secret_bytes);
    let id = hex::encode(id_bytes);
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    tokens::insert(
        tx,
        &tokens::NewToken {
            id: &id,
            station,
            role,
            label: &label,
            secret_sha256: &hash(&secret),
        },
    )?;
    Ok(IssuedToken {
        token: format!("{PREFIX}{id}_{secret}"),
        id,
        station: station.cloned(),
        role,
        label,
    })
}

/// Revokes token `id`; for a station-scoped revocation, only that station's.
/// The webhooks the token made end with it: whoever held it may no longer
/// receive what it subscribed to.
pub(super) fn revoke(tx: &Transaction<'_>, id: &str, station: Option<&StationId>) -> Result<(), ExchangeError> {
    if tokens::revoke(tx, id, station)? {
        webhooks::delete_by_token(tx, id, crate::catalog::now())?;
        Ok(())
    } else {
        Err(ExchangeError::NotFound)
    }
}

impl Hub {
    /// Who holds `bearer`: a known, unrevoked token.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, bearer: &str) -> Result<Caller, ExchangeError> {
        let Some((id, secret)) = split(bearer) else {
            return Err(ExchangeError::Unauthorized);
        };
        let presented = hash(secret);
        let id = id.to_owned();
        let row = self.catalog.read(move |c| tokens::get(c, &id)).await?;
        // Compare against something even for an unknown id, so that timing
        // tells nothing.
        let stored = row.as_ref().map_or(&[0u8; 32][..], |r| &r.secret_sha256[..]);
        let matches: bool = stored.ct_eq(&presented).into();
        match row {
            Some(r) if matches && !r.revoked => Ok(Caller {
                token_id: r.id,
                role: r.role,
                station: r.station,
                station_kind: r.station_kind,
                person: None,
            }),
            _ => Err(ExchangeError::Unauthorized),
        }
    }

    /// A key that stands for `token_id` in a feed URL, for feed readers
    /// that cannot send headers: `<token id>.<MAC>`. It dies with the token.
    pub fn feed_key(&self, token_id: &str) -> String {
        format!("{token_id}.{}", self.feed_mac(token_id))
    }

    fn feed_mac(&self, token_id: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.cursor_key).expect("any key length");
        mac.update(b"feed:");
        mac.update(token_id.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Who a feed key stands for.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_feed_key(&self, key: &str) -> Result<Caller, ExchangeError> {
        let Some((id, mac)) = key.split_once('.') else {
            return Err(ExchangeError::Unauthorized);
        };
        let expected = self.feed_mac(id);
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return Err(ExchangeError::Unauthorized);
        }
        // A person's key (the page's Atom link): theirs while they may sign in.
        if let Some(person) = id.strip_prefix("person:") {
            return self.person_caller(person).await;
        }
        let id = id.to_owned();
        match self.catalog.read(move |c| tokens::get(c, &id)).await? {
            Some(r) if !r.revoked => Ok(Caller {
                token_id: r.id,
                role: r.role,
                station: r.station,
                station_kind: r.station_kind,
                person: None,
            }),
            _ => Err(ExchangeError::Unauthorized),
        }
    }

    /// Issues a token for `station`, or with `None` an operator's (admin)
    /// token.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn issue_token(
        &self,
        caller: &Caller,
        station: Option<StationId>,
        role: Option<Role>,
        label: String,
    ) -> Result<IssuedToken, ExchangeError> {
        require_admin(caller)?;
        if station.is_none() && role.is_some_and(|r| r != Role::Admin) {
            return Err(ExchangeError::invalid("station", "name the station a token acts for"));
        }
        self.catalog
            .write(move |tx| issue(tx, station.as_ref(), role, &label))
            .await
    }

    /// Revokes token `id`; with `station`, only if it is that station's.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn revoke_token(
        &self,
        caller: &Caller,
        station: Option<StationId>,
        id: String,
    ) -> Result<(), ExchangeError> {
        require_admin(caller)?;
        self.catalog.write(move |tx| revoke(tx, &id, station.as_ref())).await
    }
}

/// A token as a list shows it (never its secret).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: String,
    pub station: Option<StationId>,
    pub role: Role,
    pub label: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked: bool,
}

impl Hub {
    /// The tokens of the caller's station; the operator's: every token.
    pub async fn tokens(&self, caller: &Caller) -> Result<Vec<TokenInfo>, ExchangeError> {
        let station = match (caller.is_admin(), &caller.station) {
            (true, _) => None,
            (false, Some(s)) => Some(s.clone()),
            (false, None) => return Err(ExchangeError::Forbidden("tokens belong to stations")),
        };
        let rows = self.catalog.read(move |c| tokens::list(c, station.as_ref())).await?;
        Ok(rows
            .into_iter()
            .map(|(id, station, role, label, created_at, revoked)| TokenInfo {
                id,
                station,
                role,
                label,
                created_at,
                revoked,
            })
            .collect())
    }
}

pub(super) fn require_admin(caller: &Caller) -> Result<(), ExchangeError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ExchangeError::Forbidden("only the hub operator may do this"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_well_formed_tokens() {
        assert_eq!(
            split("pxh_0123456789abcdef_c2VjcmV0"),
            Some(("0123456789abcdef", "c2VjcmV0"))
        );
        assert_eq!(split("pxh_0123456789abcdef_a_b"), Some(("0123456789abcdef", "a_b")));
        for bad in [
            "",
            "pxh_",
            "pxh_0123456789abcdef",
            "pxh_0123456789abcdef_",
            "pxh_0123456789ABCDEF_x",
            "xyz_0123456789abcdef_x",
            "pxh_é123456789abcdef_x",
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }
}
