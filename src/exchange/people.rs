//! People and their sessions: accounts for the web page. Passwords are kept
//! as Argon2id hashes (the `argon2` crate's default parameters, which are
//! its documented recommendation: 19 MiB, 2 passes, 1 lane); a session id is
//! random and kept only as its SHA-256; failed sign-ins per login slow down,
//! then lock for a while, and the answer never tells whether the login
//! exists.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::password_gate::PasswordGate;
use super::tokens::{require_admin, Caller, PersonRef};
use super::{ExchangeError, Hub};
use crate::catalog::DbError;
use crate::catalog::{self, people, stations};
use crate::domain::person::check_password;
use crate::domain::{Login, Person, PersonId, PersonRole, Role, StationId, StationKind};
use crate::exchange::error::code;

/// How sign-ins and sessions behave; the settings make one.
#[derive(Debug, Clone, PartialEq)]
pub struct PeopleSettings {
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub session_max: Duration,
    /// Failed sign-ins for one login before it locks.
    pub lock_after: u32,
    /// How long a locked login stays locked.
    pub lock_for: Duration,
    /// Failed sign-ins from one address within `lock_for` before it is
    /// refused for the rest of that time (0: no limit).
    pub address_limit: u32,
    /// A person away from the pages for longer than this comes back for a
    /// new visit: "new since last visit" then counts from when they left.
    pub visit_gap: Duration,
}

impl Default for PeopleSettings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(8 * 3600),
            session_max: Duration::from_secs(12 * 3600),
            lock_after: 5,
            lock_for: Duration::from_secs(900),
            address_limit: 30,
            visit_gap: Duration::from_secs(3600),
        }
    }
}

/// The cookie that carries a browser's session id.
pub const SESSION_COOKIE: &str = "pxhub_session";
/// The header a browser's script sends its page's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Failures after which each further answer is slowed down.
const SLOW_AFTER: u32 = 2;
/// The longest a failed sign-in's answer is held back.
const MAX_SLOWDOWN: Duration = Duration::from_secs(4);
/// A session's last use is written at most this often.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// A person to add.
#[derive(Debug, Clone)]
pub struct NewPerson {
    /// `None` with [`PersonRole::Operator`].
    pub station: Option<StationId>,
    pub login: String,
    pub name: String,
    pub role: PersonRole,
    /// `None`: the hub makes one up and returns it.
    pub password: Option<String>,
}

/// A person just added, and the password made up for them (shown once).
#[derive(Debug)]
pub struct AddedPerson {
    pub person: Person,
    pub generated_password: Option<String>,
}

/// A signed-in browser: the session id goes into the cookie, never stored.
#[derive(Debug)]
pub struct NewSession {
    pub session_id: String,
    pub person: Person,
}

/// Who a session is, and the CSRF token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub person: Person,
    pub csrf: String,
    /// When the person's previous visit ended (`None`: this is their
    /// first): what "new since last visit" counts from.
    pub since: Option<DateTime<Utc>>,
}

/// What a person's visits are at `now`, seen last at `seen` with their
/// previous visit ended at `previous`: since when "new" counts, and whether
/// to write that down (on a new visit, and then at most every `touch`).
pub fn visit_at(
    seen: Option<DateTime<Utc>>,
    previous: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    gap: chrono::Duration,
    touch: chrono::Duration,
) -> (Option<DateTime<Utc>>, bool) {
    match seen {
        None => (previous, true),
        Some(seen) if now - seen > gap => (Some(seen), true),
        Some(seen) => (previous, now - seen > touch),
    }
}

fn session_hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

pub(super) fn random_text(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The Argon2id hash of `password`, as a PHC string. Slow on purpose: call
/// it off the async workers.
pub(super) fn hash_password(password: &str) -> Result<String, ExchangeError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ExchangeError::Broken("Argon2 refused to hash a password"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash to check against when the login is unknown, so that the answer
/// takes as long as for a known one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_text(16)).expect("hashing a random password"))
}

/// The name a failed sign-in is counted under: what was typed, folded, cut.
pub(super) fn failure_key(login: &str) -> String {
    login.trim().to_lowercase().chars().take(64).collect()
}

/// The caller a person acts as: their station's, with the role its kind
/// gives; the operator as the admin.
fn caller_of(person: &Person, kind: Option<StationKind>) -> Caller {
    let role = match (&person.station, kind) {
        (None, _) => Role::Admin,
        (Some(_), Some(StationKind::National)) => Role::National,
        (Some(_), Some(StationKind::Peer)) => Role::Peer,
        (Some(_), _) => Role::Station,
    };
    Caller {
        token_id: format!("person:{}", person.id),
        role,
        station: person.station.clone(),
        station_kind: kind,
        person: Some(PersonRef {
            id: person.id.clone(),
            name: person.name.clone(),
            role: person.role,
        }),
    }
}

fn check_name(name: &str) -> Result<String, ExchangeError> {
    let name = crate::domain::text::tidy(name, false).map_err(|why| ExchangeError::invalid("name", why))?;
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ExchangeError::invalid("name", "must be 1 to 200 characters"));
    }
    Ok(name)
}

impl Hub {
    /// Adds a person (the hub operator may).
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn add_person(&self, caller: &Caller, new: NewPerson) -> Result<AddedPerson, ExchangeError> {
        require_admin(caller)?;
        let mut errors = Vec::new();
        let login = Login::parse(&new.login)
            .map_err(|e| errors.push(crate::domain::FieldError::new("login", e)))
            .ok();
        let name = check_name(&new.name)
            .map_err(|e| {
                if let ExchangeError::Invalid(mut v) = e {
                    errors.append(&mut v)
                }
            })
            .ok();
        match (&new.station, new.role) {
            (None, PersonRole::Operator) | (Some(_), PersonRole::Editor | PersonRole::Viewer) => {}
            (None, _) => errors.push(crate::domain::FieldError::new(
                "station",
                "a person belongs to a station",
            )),
            (Some(_), PersonRole::Operator) => errors.push(crate::domain::FieldError::new(
                "station",
                "an operator belongs to no station",
            )),
        }
        if let Some(p) = &new.password {
            if let Err(why) = check_password(p, &new.login) {
                errors.push(crate::domain::FieldError::new("password", why));
            }
        }
        let (Some(login), Some(name), true) = (login, name, errors.is_empty()) else {
            return Err(ExchangeError::Invalid(errors));
        };
        let generated = new.password.is_none().then(|| random_text(12));
        let password = new.password.clone().or_else(|| generated.clone()).unwrap_or_default();
        let hash = self.password_gate.run(move || hash_password(&password)).await??;
        let mut id = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let person = Person {
            id: PersonId::parse(&hex::encode(id)).expect("16 hex digits"),
            login,
            name,
            station: new.station,
            role: new.role,
            language: None,
            disabled: false,
            in_charge: false,
        };
        let p = person.clone();
        self.catalog
            .write(move |tx| {
                if let Some(s) = &p.station {
                    let s =
                        stations::get(tx, s)?.ok_or_else(|| ExchangeError::invalid("station", "no such station"))?;
                    if s.kind == StationKind::Peer {
                        return Err(ExchangeError::invalid("station", "a peer hub has no people here"));
                    }
                }
                if !people::insert(tx, &p, &hash, catalog::now())? {
                    return Err(ExchangeError::conflict(
                        code::LOGIN_TAKEN,
                        "another person has this login",
                    ));
                }
                Ok(())
            })
            .await?;
        Ok(AddedPerson {
            person,
            generated_password: generated,
        })
    }

    /// The people of the caller's station; the operator's: everyone.
    pub async fn people(&self, caller: &Caller) -> Result<Vec<Person>, ExchangeError> {
        let station = match (caller.is_admin(), &caller.station) {
            (true, _) => None,
            (false, Some(s)) => Some(s.clone()),
            (false, None) => return Err(ExchangeError::Forbidden("people belong to stations")),
        };
        self.catalog
            .read(move |c| people::list(c, station.as_ref()))
            .await
            .map_err(Into::into)
    }

    /// Signs a person in: a new session, or `Unauthorized` (whether the
    /// login exists or not), or `TooManyRequests` while the login is locked
    /// (code `sign_in_locked`) or too many checks run at once (`busy`).
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<NewSession, ExchangeError> {
        self.sign_in_from(login, password, None).await
    }

    /// [`Hub::sign_in`] from `client`'s address, whose failures are counted
    /// too: past `address_limit` of them it is refused (`sign_in_locked`)
    /// whatever login it tries.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_from(
        &self,
        login: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<NewSession, ExchangeError> {
        let (limit, window) = (self.settings.people.address_limit, self.settings.people.lock_for);
        self.sign_in_addresses.check(client, limit, window)?;
        let signed_in = self.sign_in_checked(login, password).await;
        if let Err(
            ExchangeError::Unauthorized
            | ExchangeError::TooManyRequests {
                code: code::SIGN_IN_LOCKED,
                ..
            },
        ) = &signed_in
        {
            self.sign_in_addresses.failed(client, window);
        }
        signed_in
    }

    async fn sign_in_checked(&self, login: &str, password: &str) -> Result<NewSession, ExchangeError> {
        let key = failure_key(login);
        let settings = self.settings.people.clone();
        let now = catalog::now();
        let k = key.clone();
        let failures = self.catalog.read(move |c| people::failures(c, &k)).await?;
        if let Some(until) = failures.locked_until.filter(|u| *u > now) {
            return Err(locked(until, now));
        }
        let turn = self.password_gate.turn().await?;
        // Counted before the check, in one write, so that attempts at the
        // same time cannot verify more than `lock_after` passwords.
        let attempt = self.count_attempt(key.clone(), &settings, now).await?;
        let parsed = Login::parse(login).ok();
        let row = match parsed {
            Some(l) => self.catalog.read(move |c| people::by_login(c, &l)).await?,
            None => None,
        };
        let (pw, stored) = (password.to_owned(), row.as_ref().map(|r| r.password_hash.clone()));
        let ok = password.len() <= crate::domain::person::MAX_PASSWORD_BYTES
            && PasswordGate::run_in(turn, move || {
                let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
                verify_password(&pw, hash) && stored.is_some()
            })
            .await;
        let Some(row) = row.filter(|r| ok && !r.person.disabled) else {
            return Err(failed_sign_in(attempt, now).await);
        };
        let session_id = random_text(32);
        let hashed = session_hash(&session_id);
        let person = row.person.clone();
        let idle = settings.session_idle;
        self.catalog
            .write(move |tx| {
                people::clear_failures(tx, &key)?;
                people::delete_sessions_idle_since(tx, now - idle)?;
                people::insert_session(tx, &hashed, &person.id, now)
            })
            .await?;
        tracing::info!(person = %row.person.id, "signed in");
        Ok(NewSession {
            session_id,
            person: row.person,
        })
    }

    /// Counts a sign-in attempt for `key` as failed until it succeeds; the
    /// one that reaches `lock_after` locks the login for the others, and
    /// any past it is refused without a check.
    async fn count_attempt(
        &self,
        key: String,
        settings: &PeopleSettings,
        now: DateTime<Utc>,
    ) -> Result<people::Failures, ExchangeError> {
        let lock_after = settings.lock_after;
        let lock_for = chrono::Duration::from_std(settings.lock_for).unwrap_or(chrono::Duration::MAX);
        let keep = chrono::Duration::from_std(settings.lock_for).unwrap_or_default();
        self.catalog
            .write(move |tx| {
                people::prune_failures(tx, now - keep)?;
                let before = people::failures(tx, &key)?;
                if let Some(until) = before.locked_until.filter(|u| *u > now) {
                    return Ok(Err(locked(until, now)));
                }
                if before.count >= lock_after {
                    let f = people::Failures {
                        locked_until: Some(now + lock_for),
                        last: Some(now),
                        ..before
                    };
                    people::set_failures(tx, &key, &f)?;
                    return Ok(Err(locked(now + lock_for, now)));
                }
                let count = before.count.saturating_add(1);
                let f = people::Failures {
                    count,
                    last: Some(now),
                    locked_until: (count >= lock_after).then(|| now + lock_for),
                };
                people::set_failures(tx, &key, &f)?;
                Ok::<_, DbError>(Ok(f))
            })
            .await?
    }

    /// Who session `session_id` is, if it is live; its use is noted.
    pub async fn session(&self, session_id: &str) -> Result<Session, ExchangeError> {
        if session_id.is_empty() || session_id.len() > 128 {
            return Err(ExchangeError::Unauthorized);
        }
        let hashed = session_hash(session_id);
        let idle = chrono::Duration::from_std(self.settings.people.session_idle).unwrap_or(chrono::Duration::MAX);
        let max = chrono::Duration::from_std(self.settings.people.session_max).unwrap_or(chrono::Duration::MAX);
        let now = catalog::now();
        let found = self
            .catalog
            .read(move |c| {
                let Some(row) = people::session(c, &hashed)? else {
                    return Ok(None);
                };
                let kind = match &row.person.person.station {
                    Some(s) => stations::get(c, s)?.map(|s| s.kind),
                    None => None,
                };
                let visits = (row.person_seen, row.previous_visit);
                Ok::<_, DbError>(Some((row.person.person, row.last_seen, row.created, kind, visits)))
            })
            .await?;
        let Some((person, last_seen, created, kind, (seen, previous))) = found.filter(|(p, ..)| !p.disabled) else {
            return Err(ExchangeError::Unauthorized);
        };
        if last_seen + idle < now || created.checked_add_signed(max).is_some_and(|end| end < now) {
            self.catalog
                .write(move |tx| people::delete_session(tx, &hashed))
                .await?;
            return Err(ExchangeError::Unauthorized);
        }
        let gap = chrono::Duration::from_std(self.settings.people.visit_gap).unwrap_or(chrono::Duration::MAX);
        // Written often enough that a visit's end is known to within a
        // quarter of the gap that ends it.
        let (since, note) = visit_at(seen, previous, now, gap, TOUCH_EVERY.min(gap / 4));
        if now - last_seen > TOUCH_EVERY || note {
            let (touch, who) = (now - last_seen > TOUCH_EVERY, person.id.clone());
            self.catalog
                .write(move |tx| {
                    if touch {
                        people::touch_session(tx, &hashed, now)?;
                    }
                    if note {
                        people::note_seen(tx, &who, now, since)?;
                    }
                    Ok::<_, DbError>(())
                })
                .await?;
        }
        Ok(Session {
            caller: caller_of(&person, kind),
            csrf: self.csrf_token(session_id),
            person,
            since,
        })
    }

    /// Who person `id` is as a caller, while they may sign in (their feed
    /// key stands for them).
    pub(super) async fn person_caller(&self, id: &str) -> Result<Caller, ExchangeError> {
        let id = PersonId::parse(id).ok_or(ExchangeError::Unauthorized)?;
        let found = self
            .catalog
            .read(move |c| {
                let Some(row) = people::by_id(c, &id)? else {
                    return Ok(None);
                };
                let kind = match &row.person.station {
                    Some(s) => stations::get(c, s)?.map(|s| s.kind),
                    None => None,
                };
                Ok::<_, DbError>(Some((row.person, kind)))
            })
            .await?;
        match found {
            Some((person, kind)) if !person.disabled => Ok(caller_of(&person, kind)),
            _ => Err(ExchangeError::Unauthorized),
        }
    }

    /// Lets `login` sign in again at once (the operator may): its failed
    /// sign-ins are forgotten. `Ok(false)` when it was not locked.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn unlock_login(&self, caller: &Caller, login: &str) -> Result<bool, ExchangeError> {
        require_admin(caller)?;
        let key = failure_key(login);
        if key.is_empty() {
            return Err(ExchangeError::invalid("login", "name the login to unlock"));
        }
        let now = catalog::now();
        let was_locked = self
            .catalog
            .write(move |tx| {
                let locked = people::failures(tx, &key)?.locked_until.is_some_and(|u| u > now);
                people::clear_failures(tx, &key)?;
                Ok::<_, DbError>(locked)
            })
            .await?;
        tracing::info!(locked = was_locked, "login unlocked by the operator");
        Ok(was_locked)
    }

    /// The CSRF token of a session: a MAC of its id, so nothing more is kept.
    pub fn csrf_token(&self, session_id: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.cursor_key).expect("any key length");
        mac.update(b"csrf:");
        mac.update(&session_hash(session_id));
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Whether `token` is the CSRF token of `session_id` (constant time).
    pub fn csrf_ok(&self, session_id: &str, token: &str) -> bool {
        self.csrf_token(session_id).as_bytes().ct_eq(token.as_bytes()).into()
    }

    /// Ends the session.
    pub async fn sign_out(&self, session_id: &str) -> Result<(), ExchangeError> {
        let hashed = session_hash(session_id);
        self.catalog
            .write(move |tx| people::delete_session(tx, &hashed))
            .await?;
        Ok(())
    }

    /// Changes the caller's own password, if `current` is right. Every
    /// session of theirs ends; the new one returned keeps this browser in.
    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
    ) -> Result<NewSession, ExchangeError> {
        let Some(me) = caller.person.clone() else {
            return Err(ExchangeError::Forbidden("only a person has a password"));
        };
        let id = me.id.clone();
        let row = self
            .catalog
            .read(move |c| people::by_id(c, &id))
            .await?
            .ok_or(ExchangeError::Unauthorized)?;
        check_password(new, row.person.login.as_str()).map_err(|why| ExchangeError::invalid("new_password", why))?;
        let (cur, stored) = (current.to_owned(), row.password_hash.clone());
        if current.len() > crate::domain::person::MAX_PASSWORD_BYTES
            || !self.password_gate.run(move || verify_password(&cur, &stored)).await?
        {
            return Err(ExchangeError::invalid("current_password", "is not your password"));
        }
        let new = new.to_owned();
        let hash = self.password_gate.run(move || hash_password(&new)).await??;
        let session_id = random_text(32);
        let hashed = session_hash(&session_id);
        let id = me.id.clone();
        self.catalog
            .write(move |tx| {
                let now = catalog::now();
                people::set_password(tx, &id, &hash, now)?;
                people::delete_sessions_of(tx, &id)?;
                people::insert_session(tx, &hashed, &id, now)
            })
            .await?;
        tracing::info!(person = %me.id, "password changed; other sessions ended");
        Ok(NewSession {
            session_id,
            person: row.person,
        })
    }

    /// Sets the page language the caller chose (`vi`, `en`).
    pub async fn set_language(&self, caller: &Caller, language: &str) -> Result<(), ExchangeError> {
        let Some(me) = caller.person.clone() else {
            return Err(ExchangeError::Forbidden("only a person has a page language"));
        };
        if !matches!(language, "vi" | "en") {
            return Err(ExchangeError::invalid("language", "must be vi or en"));
        }
        let language = language.to_owned();
        self.catalog
            .write(move |tx| people::set_language(tx, &me.id, Some(&language)))
            .await?;
        Ok(())
    }
}

/// The answer to a failed check counted as `attempt`: locked when it was
/// the last one allowed, else `Unauthorized`, later the more have failed.
async fn failed_sign_in(attempt: people::Failures, now: DateTime<Utc>) -> ExchangeError {
    let count = attempt.count;
    tracing::info!(
        failures = count,
        locked = attempt.locked_until.is_some(),
        "sign-in refused"
    );
    if let Some(until) = attempt.locked_until {
        return locked(until, now);
    }
    // Each failure past the first few holds the answer back longer.
    if count > SLOW_AFTER {
        let wait = Duration::from_millis(250 << (count - SLOW_AFTER).min(8)).min(MAX_SLOWDOWN);
        tokio::time::sleep(wait).await;
    }
    ExchangeError::Unauthorized
}

fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> ExchangeError {
    ExchangeError::TooManyRequests {
        code: code::SIGN_IN_LOCKED,
        detail: "too many failed sign-ins; try again later".into(),
        retry_after_secs: (until - now).num_seconds().max(1) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("mật khẩu dài đủ").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("mật khẩu dài đủ", &h));
        assert!(!verify_password("mat khau dai du", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn failures_count_under_the_typed_login_folded() {
        assert_eq!(failure_key("  Hoa.Nguyen "), "hoa.nguyen");
        assert_eq!(failure_key(&"x".repeat(500)).len(), 64);
    }

    #[test]
    fn a_visit_counts_from_when_the_previous_one_ended() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .to_utc();
        let (min, gap, touch) = (
            chrono::Duration::minutes,
            chrono::Duration::hours(1),
            chrono::Duration::minutes(1),
        );
        // The first visit ever: nothing before it; noted.
        assert_eq!(visit_at(None, None, t0, gap, touch), (None, true));
        // Within the visit: still since the previous visit; noted each minute.
        let before = Some(t0 - chrono::Duration::days(1));
        assert_eq!(visit_at(Some(t0), before, t0 + min(5), gap, touch), (before, true));
        assert_eq!(
            visit_at(Some(t0), before, t0 + chrono::Duration::seconds(30), gap, touch),
            (before, false)
        );
        // Back after more than the gap: since the last time seen.
        assert_eq!(visit_at(Some(t0), before, t0 + min(61), gap, touch), (Some(t0), true));
    }
}
