//! API tokens as the catalog keeps them: an id, the SHA-256 of the secret
//! (never the secret), the station and role, and when it was revoked. How a
//! token is made and checked is `exchange::tokens`' business.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{Role, StationId, StationKind};

/// A token as the catalog keeps it: never its secret, only the secret's hash.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub station: Option<StationId>,
    pub station_kind: Option<StationKind>,
    pub role: Role,
    pub secret_sha256: Vec<u8>,
    pub revoked: bool,
}

pub struct NewToken<'a> {
    pub id: &'a str,
    pub station: Option<&'a StationId>,
    pub role: Role,
    pub label: &'a str,
    pub secret_sha256: &'a [u8],
}

pub fn insert(conn: &Connection, t: &NewToken<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tokens (id, station_id, role, label, secret_sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            t.id,
            t.station.map(StationId::as_str),
            t.role.as_str(),
            t.label,
            t.secret_sha256,
            super::to_micros(super::now())
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<TokenRow>> {
    conn.prepare_cached(
        "SELECT t.id, t.station_id, s.kind, t.role, t.secret_sha256, t.revoked_at IS NOT NULL
         FROM tokens t LEFT JOIN stations s ON s.id = t.station_id WHERE t.id = ?1",
    )?
    .query_row([id], |r| {
        let station: Option<String> = r.get(1)?;
        let kind: Option<String> = r.get(2)?;
        let role: String = r.get(3)?;
        Ok(TokenRow {
            id: r.get(0)?,
            station: station
                .map(|s| StationId::parse(&s).map_err(|e| super::stations::bad_column(1, e)))
                .transpose()?,
            station_kind: kind.as_deref().and_then(StationKind::parse),
            role: Role::parse(&role).ok_or_else(|| super::stations::bad_column(3, role))?,
            secret_sha256: r.get(4)?,
            revoked: r.get(5)?,
        })
    })
    .optional()
}

/// Marks the token revoked; `Ok(false)` when there is no such token.
/// `station` restricts the revocation to that station's tokens.
pub fn revoke(conn: &Connection, id: &str, station: Option<&StationId>) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2)
         WHERE id = ?1 AND (?3 IS NULL OR station_id = ?3)",
        params![id, super::to_micros(super::now()), station.map(StationId::as_str)],
    )?;
    Ok(n == 1)
}

/// A token as a list shows it: never its secret nor its hash.
pub type TokenListing = (
    String,
    Option<StationId>,
    Role,
    String,
    chrono::DateTime<chrono::Utc>,
    bool,
);

/// The tokens of `station` (every token when `None`), newest first.
pub fn list(conn: &Connection, station: Option<&StationId>) -> rusqlite::Result<Vec<TokenListing>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, station_id, role, label, created_at, revoked_at IS NOT NULL FROM tokens
         WHERE ?1 IS NULL OR station_id = ?1 ORDER BY created_at DESC, id LIMIT 1000",
    )?;
    let rows = stmt.query_map([station.map(StationId::as_str)], |r| {
        let station: Option<String> = r.get(1)?;
        let role: String = r.get(2)?;
        Ok((
            r.get(0)?,
            station
                .map(|s| StationId::parse(&s).map_err(|e| super::stations::bad_column(1, e)))
                .transpose()?,
            Role::parse(&role).ok_or_else(|| super::stations::bad_column(2, role))?,
            r.get(3)?,
            super::from_micros(r.get(4)?),
            r.get(5)?,
        ))
    })?;
    rows.collect()
}
