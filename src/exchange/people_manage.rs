//! Managing people after they are added: disabling and enabling them,
//! removing them, changing a station person's role (and who is its editor
//! in charge), and resetting a password to a one-time one shown once. The
//! hub operator manages everyone; a station's editor in charge manages the
//! station's own people (never an operator, never themselves). Nobody can
//! lock out the last operator who can sign in.

use super::error::code;
use super::people::{failure_key, hash_password, random_text};
use super::tokens::Caller;
use super::{ExchangeError, Hub};
use crate::catalog::{self, people, Transaction};
use crate::domain::{Login, Person, PersonRole};

/// What to change about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonChange {
    /// May no longer sign in; their sessions end. What they did stays.
    Disable,
    Enable,
    /// Gone (kept only for the history of what they did).
    Remove,
    /// A new password, made here and shown once; their sessions end.
    ResetPassword,
    /// A station person's role, and whether they are its editor in charge.
    Role {
        role: PersonRole,
        in_charge: bool,
    },
}

/// The person after the change, and the one-time password a reset made.
#[derive(Debug, Clone)]
pub struct Managed {
    pub person: Option<Person>,
    pub password: Option<String>,
}

impl Hub {
    /// Whether any operator can sign in: when none can (a new hub), the
    /// sign-in page says how to make one.
    pub async fn has_operator(&self) -> Result<bool, ExchangeError> {
        Ok(self.catalog.read(people::active_operators).await? > 0)
    }

    #[tracing::instrument(skip_all, fields(caller = %caller.token_id))]
    pub async fn manage_person(
        &self,
        caller: &Caller,
        login: &str,
        change: PersonChange,
    ) -> Result<Managed, ExchangeError> {
        let login = Login::parse(login).map_err(|e| ExchangeError::invalid("login", e))?;
        let password = (change == PersonChange::ResetPassword).then(|| random_text(12));
        let hash = match password.clone() {
            Some(p) => Some(self.password_gate.run(move || hash_password(&p)).await??),
            None => None,
        };
        let caller = caller.clone();
        let person = self
            .catalog
            .write(move |tx| {
                let target = people::by_login(tx, &login)?.ok_or(ExchangeError::NotFound)?.person;
                may_manage(tx, &caller, &target)?;
                apply(tx, &target, change, hash.as_deref())?;
                Ok::<_, ExchangeError>(people::by_id(tx, &target.id)?.map(|r| r.person))
            })
            .await?;
        if let Some(p) = &person {
            tracing::info!(person = %p.id, ?change, "person managed");
        }
        Ok(Managed { person, password })
    }
}

fn apply(tx: &Transaction<'_>, target: &Person, change: PersonChange, hash: Option<&str>) -> Result<(), ExchangeError> {
    let now = catalog::now();
    match change {
        PersonChange::Disable => {
            keep_an_operator(tx, target)?;
            people::set_disabled(tx, &target.id, Some(now))?;
            people::delete_sessions_of(tx, &target.id)?;
        }
        PersonChange::Enable => people::set_disabled(tx, &target.id, None)?,
        PersonChange::Remove => {
            keep_an_operator(tx, target)?;
            people::remove(tx, &target.id, now)?;
        }
        PersonChange::ResetPassword => {
            people::set_password(tx, &target.id, hash.unwrap_or_default(), now)?;
            people::delete_sessions_of(tx, &target.id)?;
            people::clear_failures(tx, &failure_key(target.login.as_str()))?;
        }
        PersonChange::Role { role, in_charge } => {
            if target.role == PersonRole::Operator || role == PersonRole::Operator {
                return Err(ExchangeError::invalid(
                    "role",
                    "a station person is an editor or a viewer; operators are added as such",
                ));
            }
            people::set_role(tx, &target.id, role, in_charge && role == PersonRole::Editor)?;
        }
    }
    Ok(())
}

/// The operator manages everyone; a station's editor in charge (who may
/// still sign in) the other people of that station.
fn may_manage(tx: &Transaction<'_>, caller: &Caller, target: &Person) -> Result<(), ExchangeError> {
    if caller.is_admin() {
        return Ok(());
    }
    let me = match &caller.person {
        Some(me) => people::by_id(tx, &me.id)?.map(|r| r.person),
        None => None,
    };
    let in_charge = me
        .as_ref()
        .is_some_and(|me| me.in_charge && me.role == PersonRole::Editor && !me.disabled);
    let theirs = target.station.is_some() && target.station == caller.station;
    match (in_charge, theirs, me) {
        (true, true, Some(me)) if me.id != target.id => Ok(()),
        _ => Err(ExchangeError::Forbidden(
            "only the hub operator, or a station's editor in charge for its own people, manages people",
        )),
    }
}

/// Refuses to disable or remove the last operator who can sign in.
fn keep_an_operator(tx: &Transaction<'_>, target: &Person) -> Result<(), ExchangeError> {
    if target.role == PersonRole::Operator && !target.disabled && people::active_operators(tx)? <= 1 {
        return Err(ExchangeError::conflict(
            code::LAST_OPERATOR,
            "this is the last operator who can sign in; add another first",
        ));
    }
    Ok(())
}
