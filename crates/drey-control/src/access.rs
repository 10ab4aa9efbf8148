//! Who may do what, decided once for every core operation. The core carries
//! the [`Caller`] it works for ([`crate::Core::acting_as`]); each operation
//! names what it needs on which [`Scope`] before it reads or writes anything,
//! so a denied write changes nothing and no route is open because of what its
//! path looks like. Dialects only pass the caller along.

use crate::auth::{Identity, Role};
use drey_model::Error;
use std::sync::Arc;

/// Who a core operation runs for.
#[derive(Clone, Debug)]
pub enum Caller {
    /// drey itself: the reconcilers, start-up, the admin commands that open
    /// the database directly.
    System,
    /// A request without an identity (the open routes): it may do nothing
    /// that needs a role.
    Nobody,
    /// An authenticated caller (with `--auth none`, the anonymous
    /// administrator of the default organization).
    Identity(Arc<Identity>),
    /// The holder of a pre-signed Flink UI URL: the Flink Web UI and REST
    /// API of one environment, writes only when the key that signed it
    /// could write there.
    SignedUrl {
        /// The organization.
        org: String,
        /// The environment.
        env: String,
        /// Whether the signer could write (cancel a job, upload a jar).
        writes: bool,
    },
}

/// What an operation needs on its scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any role in the organization (lists that show each caller only what
    /// it has a role on).
    Member,
    /// Reading.
    Read,
    /// Writing.
    Write,
    /// Granting roles on an environment: its owners and organization
    /// administrators.
    Grant,
    /// Administering the organization: its identities, keys, clusters.
    Administer,
}

/// Where an operation acts.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// One environment (a CMF environment, VVP namespace, LakeSail
    /// workspace) of an organization.
    Environment {
        /// The organization.
        org: &'a str,
        /// The environment's name.
        env: &'a str,
    },
    /// A whole organization (its secrets, catalogs, identities, the
    /// environments themselves).
    Organization(&'a str),
    /// The server: organizations and root keys.
    Server,
    /// The Flink Web UI and REST API of the clusters of one environment
    /// (what the Flink proxy forwards to).
    FlinkUi {
        /// The organization.
        org: &'a str,
        /// The environment's name.
        env: &'a str,
    },
}

impl<'a> Scope<'a> {
    /// One environment of `org`.
    pub fn env(org: &'a str, env: &'a str) -> Self {
        Scope::Environment { org, env }
    }
}

impl Caller {
    /// The caller of a request that carries `identity`.
    pub fn of(identity: Identity) -> Self {
        Caller::Identity(Arc::new(identity))
    }

    /// The identity, when a person or program calls.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Caller::Identity(identity) => Some(identity),
            _ => None,
        }
    }

    /// Whether the caller may see that `env` of `org` exists (lists show only these).
    pub fn sees(&self, org: &str, env: &str) -> bool {
        self.decide(Need::Read, Scope::env(org, env)).is_ok()
    }

    /// Allows `need` on `scope`, or says in a 403 why not.
    pub fn decide(&self, need: Need, scope: Scope<'_>) -> Result<(), Error> {
        let who = match self {
            Caller::System => return Ok(()),
            Caller::Nobody => {
                return Err(Error::Forbidden(
                    "this request carries no identity: send Authorization: Bearer <token>".into(),
                ))
            }
            Caller::Identity(who) => who,
            Caller::SignedUrl { org, env, writes } => {
                let within =
                    matches!(scope, Scope::FlinkUi { org: o, env: e } if o == org && e == env);
                return match need {
                    _ if !within => Err(Error::Forbidden(
                        "a pre-signed URL opens one Flink Web UI and nothing else".into(),
                    )),
                    Need::Read => Ok(()),
                    Need::Write if *writes => Ok(()),
                    _ => Err(Error::Forbidden(
                        "the key that signed this URL may only read there".into(),
                    )),
                };
            }
        };
        if who.server_admin {
            return Ok(());
        }
        let (held, place) = match scope {
            Scope::Server => {
                return Err(Error::Forbidden(
                    "only server administrators (root keys) may do this".into(),
                ))
            }
            Scope::Organization(org)
            | Scope::Environment { org, .. }
            | Scope::FlinkUi { org, .. }
                if org != who.org =>
            {
                return Err(Error::Forbidden(format!(
                    "the caller belongs to organization '{}', not '{org}'",
                    who.org
                )))
            }
            Scope::Environment { env, .. } | Scope::FlinkUi { env, .. } => {
                (who.role_in(env), format!("environment '{env}'"))
            }
            Scope::Organization(_) => (who.role, "the organization".to_owned()),
        };
        let (wanted, verb) = match need {
            Need::Member => return Ok(()),
            Need::Read => (Role::Viewer, "read"),
            Need::Write => (Role::Editor, "write"),
            Need::Grant => (Role::Owner, "grant roles"),
            Need::Administer => (Role::Admin, "administer"),
        };
        let wanted = match (need, scope) {
            // Organization-wide, granting is the administrators' (owner is
            // a role on one environment only).
            (Need::Grant, Scope::Organization(_)) => Role::Admin,
            _ => wanted,
        };
        match held {
            Some(role) if role >= wanted => Ok(()),
            Some(role) => Err(Error::Forbidden(format!(
                "role {} on {place} may not {verb}",
                role.as_str()
            ))),
            None => Err(Error::Forbidden(format!("no role on {place}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Option<Role>, grants: &[(&str, Role)]) -> Caller {
        Caller::of(Identity::member("acme", role, grants))
    }

    #[test]
    fn roles_decide_per_environment_and_organization() {
        let robot = member(None, &[("a", Role::Viewer), ("b", Role::Editor)]);
        assert!(robot.decide(Need::Read, Scope::env("acme", "a")).is_ok());
        assert!(robot.decide(Need::Write, Scope::env("acme", "a")).is_err());
        assert!(robot.decide(Need::Write, Scope::env("acme", "b")).is_ok());
        assert!(robot.decide(Need::Grant, Scope::env("acme", "b")).is_err());
        assert!(robot.decide(Need::Read, Scope::env("acme", "c")).is_err());
        assert!(robot
            .decide(Need::Read, Scope::Organization("acme"))
            .is_err());
        assert!(robot
            .decide(Need::Member, Scope::Organization("acme"))
            .is_ok());
        assert!(robot.decide(Need::Read, Scope::env("globex", "a")).is_err());
        assert!(robot
            .decide(Need::Member, Scope::Organization("globex"))
            .is_err());

        let editor = member(Some(Role::Editor), &[("c", Role::Owner)]);
        assert!(editor
            .decide(Need::Write, Scope::Organization("acme"))
            .is_ok());
        assert!(editor.decide(Need::Grant, Scope::env("acme", "c")).is_ok());
        assert!(editor.decide(Need::Grant, Scope::env("acme", "d")).is_err());
        assert!(editor
            .decide(Need::Administer, Scope::Organization("acme"))
            .is_err());
        assert!(editor.decide(Need::Read, Scope::Server).is_err());

        let admin = member(Some(Role::Admin), &[]);
        assert!(admin
            .decide(Need::Grant, Scope::Organization("acme"))
            .is_ok());
        assert!(admin
            .decide(Need::Administer, Scope::Organization("acme"))
            .is_ok());
        assert!(admin.decide(Need::Write, Scope::Server).is_err());
    }

    #[test]
    fn nobody_may_do_anything_and_drey_itself_everything() {
        for (need, scope) in [
            (Need::Member, Scope::Organization("acme")),
            (Need::Read, Scope::env("acme", "a")),
            (Need::Administer, Scope::Server),
        ] {
            assert!(Caller::Nobody.decide(need, scope).is_err());
            assert!(Caller::System.decide(need, scope).is_ok());
        }
        let url = Caller::SignedUrl {
            org: "acme".into(),
            env: "a".into(),
            writes: false,
        };
        let ui = |env| Scope::FlinkUi { org: "acme", env };
        assert!(url.decide(Need::Read, ui("a")).is_ok());
        assert!(url.decide(Need::Write, ui("a")).is_err());
        assert!(url.decide(Need::Read, ui("b")).is_err());
        assert!(url.decide(Need::Read, Scope::env("acme", "a")).is_err());
        let root = Caller::of(Identity::anonymous());
        assert!(root.decide(Need::Write, Scope::Server).is_ok());
        assert!(root.decide(Need::Write, Scope::env("globex", "x")).is_ok());
    }
}
