//! Optional RBAC for the simulated API: Role and ClusterRole rules granted to identities, and
//! kube-apiserver's Forbidden answer for what they do not allow. Requests without an identity
//! act as the cluster admin unless a default identity is configured.

use std::sync::{PoisonError, RwLock};

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::rejection::{Qualified, Rejection};

/// The identity a request acts as (a request extension; see `SimApi::client_as`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity(pub String);

/// What a request asks to do, as the authorizer sees it.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// The user name.
    pub user: &'a str,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'a str,
    /// The API group ("" for core).
    pub group: &'a str,
    /// The plural resource.
    pub resource: &'a str,
    /// The subresource, empty for none.
    pub subresource: &'a str,
    /// The namespace, empty for cluster scope.
    pub namespace: &'a str,
    /// The object name, empty for collections.
    pub name: &'a str,
}

#[derive(Clone, Debug)]
struct Grant {
    user: String,
    namespace: Option<String>,
    rules: Vec<PolicyRule>,
}

/// The rules granted to identities.
#[derive(Debug, Default)]
pub struct Rbac {
    grants: RwLock<Vec<Grant>>,
    default_identity: RwLock<Option<String>>,
}

fn contains(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == "*"
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

fn allows(rule: &PolicyRule, attributes: &Attributes<'_>) -> bool {
    let combined = if attributes.subresource.is_empty() {
        attributes.resource.to_owned()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    let names_ok = match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => !attributes.name.is_empty() && names.iter().any(|n| n == attributes.name),
    };
    contains(&rule.verbs, attributes.verb)
        && contains(
            rule.api_groups.as_deref().unwrap_or_default(),
            attributes.group,
        )
        && resource_matches(rule, &combined, attributes.subresource)
        && names_ok
}

impl Rbac {
    /// Grants rules to a user: in one namespace (a Role) or cluster-wide (a ClusterRole).
    pub fn grant(&self, user: &str, namespace: Option<&str>, rules: Vec<PolicyRule>) {
        self.grants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Grant {
                user: user.to_owned(),
                namespace: namespace.map(str::to_owned),
                rules,
            });
    }

    /// Removes every grant.
    pub fn clear(&self) {
        self.grants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The identity of requests that carry none (None: they act as admin).
    pub fn set_default_identity(&self, user: Option<&str>) {
        *self
            .default_identity
            .write()
            .unwrap_or_else(PoisonError::into_inner) = user.map(str::to_owned);
    }

    /// The identity a request acts as; None is the admin.
    pub fn identity_of(&self, carried: Option<&Identity>) -> Option<String> {
        carried.map(|i| i.0.clone()).or_else(|| {
            self.default_identity
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    /// Allows the request or answers kube-apiserver's 403.
    pub fn authorize(&self, attributes: &Attributes<'_>) -> Result<(), Rejection> {
        let grants = self.grants.read().unwrap_or_else(PoisonError::into_inner);
        let allowed = grants.iter().any(|grant| {
            grant.user == attributes.user
                && grant
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == attributes.namespace)
                && grant.rules.iter().any(|rule| allows(rule, attributes))
        });
        if allowed {
            return Ok(());
        }
        let resource = if attributes.subresource.is_empty() {
            attributes.resource.to_owned()
        } else {
            format!("{}/{}", attributes.resource, attributes.subresource)
        };
        let scope = if attributes.namespace.is_empty() {
            "at the cluster scope".to_owned()
        } else {
            format!("in the namespace {:?}", attributes.namespace)
        };
        let why = format!(
            "User {:?} cannot {} resource {:?} in API group {:?} {scope}",
            attributes.user, attributes.verb, resource, attributes.group
        );
        Err(Rejection::forbidden(
            Qualified {
                group: attributes.group,
                resource: attributes.resource,
            },
            attributes.name,
            &why,
        ))
    }
}
