//! Integrator clients: third-party services with OAuth2 client credentials, owned by one
//! school or one municipality and limited to scopes. Only a SHA-256 of a secret is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::access::Tenancy;
use domain::{IntegratorId, UserId};

use crate::audit::{self, Owner};
use crate::schema::integrator_clients;
use crate::{DbConnection, PersistenceError, Result};

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewClient<'a> {
    pub client_id: &'a str,
    pub secret_hash: &'a str,
    pub name: &'a str,
    pub tenancy: Tenancy,
    /// Space-separated scopes.
    pub scopes: &'a str,
    pub created_by: UserId,
    pub at: NaiveDateTime,
}

/// A registered client (never its secret).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = integrator_clients)]
pub struct Client {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub school_id: Option<i64>,
    pub municipality_id: Option<i64>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

fn owner(tenancy: Tenancy) -> Owner {
    match tenancy {
        Tenancy::School(s) => Owner::School(s),
        Tenancy::Municipality(m) => Owner::Municipality(m),
    }
}

fn owner_columns(tenancy: Tenancy) -> (Option<i64>, Option<i64>) {
    match tenancy {
        Tenancy::School(s) => (Some(s.get()), None),
        Tenancy::Municipality(m) => (None, Some(m.get())),
    }
}

/// Registers a client, audited; returns it.
///
/// # Errors
/// On a database failure.
pub fn register(conn: &mut DbConnection, new: &NewClient<'_>) -> Result<Client> {
    let (school, municipality) = owner_columns(new.tenancy);
    conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(integrator_clients::table)
            .values((
                integrator_clients::client_id.eq(new.client_id),
                integrator_clients::secret_hash.eq(new.secret_hash),
                integrator_clients::name.eq(new.name),
                integrator_clients::school_id.eq(school),
                integrator_clients::municipality_id.eq(municipality),
                integrator_clients::scopes.eq(new.scopes),
                integrator_clients::created_by.eq(new.created_by.get()),
                integrator_clients::created_at.eq(new.at),
            ))
            .returning(integrator_clients::id)
            .get_result(conn)?;
        let client: Client = integrator_clients::table
            .find(id)
            .select(Client::as_select())
            .first(conn)?;
        audit::record(
            conn,
            &audit::Entry {
                owner: owner(new.tenancy),
                actor: Some(new.created_by),
                action: "integrator.registered",
                target_type: "integrator",
                target_id: client.id,
                details: serde_json::json!({
                    "client_id": new.client_id,
                    "name": new.name,
                    "scopes": new.scopes
                }),
                at: new.at,
            },
        )?;
        Ok(client)
    })
}

/// The clients of a school or municipality, by id.
///
/// # Errors
/// On a database failure.
pub fn list(conn: &mut DbConnection, tenancy: Tenancy) -> Result<Vec<Client>> {
    let query = integrator_clients::table
        .select(Client::as_select())
        .order(integrator_clients::id.asc());
    match tenancy {
        Tenancy::School(s) => query
            .filter(integrator_clients::school_id.eq(s.get()))
            .load(conn),
        Tenancy::Municipality(m) => query
            .filter(integrator_clients::municipality_id.eq(m.get()))
            .load(conn),
    }
    .map_err(Into::into)
}

/// Revokes a client of this owner; its tokens stop working at once.
///
/// # Errors
/// [`PersistenceError::NotFound`] when the owner has no such active client.
pub fn revoke(
    conn: &mut DbConnection,
    tenancy: Tenancy,
    id: IntegratorId,
    actor: UserId,
    at: NaiveDateTime,
) -> Result<()> {
    let (school, municipality) = owner_columns(tenancy);
    conn.transaction(|conn| {
        let target = integrator_clients::table
            .filter(integrator_clients::id.eq(id.get()))
            .filter(integrator_clients::revoked_at.is_null());
        let revoked = match (school, municipality) {
            (Some(s), _) => diesel::update(target.filter(integrator_clients::school_id.eq(s)))
                .set(integrator_clients::revoked_at.eq(at))
                .execute(conn)?,
            (_, Some(m)) => {
                diesel::update(target.filter(integrator_clients::municipality_id.eq(m)))
                    .set(integrator_clients::revoked_at.eq(at))
                    .execute(conn)?
            }
            (None, None) => 0,
        };
        if revoked == 0 {
            return Err(PersistenceError::NotFound);
        }
        audit::record(
            conn,
            &audit::Entry {
                owner: owner(tenancy),
                actor: Some(actor),
                action: "integrator.revoked",
                target_type: "integrator",
                target_id: id.get(),
                details: serde_json::json!({}),
                at,
            },
        )
    })
}

/// The stored secret hash of an active client, by its public client id.
///
/// # Errors
/// On a database failure.
pub fn credentials(conn: &mut DbConnection, client_id: &str) -> Result<Option<(i64, String)>> {
    integrator_clients::table
        .filter(integrator_clients::client_id.eq(client_id))
        .filter(integrator_clients::revoked_at.is_null())
        .select((integrator_clients::id, integrator_clients::secret_hash))
        .first(conn)
        .optional()
        .map_err(Into::into)
}
