//! Instance-type allow-lists: exact names, families and globs.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Candidate, Policy};
use crate::catalog::{Catalog, InstanceType};

/// Why a policy cannot be applied to a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An allow-list entry matches no instance type in the catalog.
    #[error("allowed instance type `{entry}` matches nothing in the {region} catalog")]
    UnknownInstanceType {
        /// The entry as written.
        entry: String,
        /// Catalog region.
        region: String,
    },
    /// An allow-list entry is empty or malformed.
    #[error("allowed instance type entry {position} is invalid: `{entry}` ({why})")]
    InvalidPattern {
        /// 1-based position in the list.
        position: usize,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The allow-list was given but holds no entry.
    #[error("the instance type allow-list is empty; omit it to allow the whole catalog")]
    EmptyAllowList,
    /// The policy leaves no offering at all.
    #[error("the policy allows no offering: {why}")]
    NothingAllowed {
        /// Which rule removed the last offering.
        why: String,
    },
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstancePattern {
    /// An exact API name, `m6i.large`.
    Exact(String),
    /// A whole family, `m6i`.
    Family(String),
    /// A glob with `*` and `?`, `m6i.*` or `c7*`.
    Glob(String),
}

impl InstancePattern {
    /// Parses one entry: a glob if it has `*` or `?`, an exact name if it has a
    /// dot, a family otherwise. Case is ignored, as AWS names are lower case.
    ///
    /// # Errors
    /// An empty entry or one with characters no instance type name has.
    pub fn parse(entry: &str, position: usize) -> Result<Self, PolicyError> {
        let text = entry.trim().to_ascii_lowercase();
        let invalid = |why| PolicyError::InvalidPattern { position, entry: entry.to_string(), why };
        if text.is_empty() {
            return Err(invalid("empty entry"));
        }
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '?')) {
            return Err(invalid("only letters, digits, '.', '-', '*' and '?' are allowed"));
        }
        Ok(if text.contains(['*', '?']) {
            InstancePattern::Glob(text)
        } else if text.contains('.') {
            InstancePattern::Exact(text)
        } else {
            InstancePattern::Family(text)
        })
    }

    /// True when this entry allows `ty`.
    pub fn matches(&self, ty: &InstanceType) -> bool {
        match self {
            InstancePattern::Exact(name) => ty.name == *name,
            InstancePattern::Family(family) => ty.family == *family,
            InstancePattern::Glob(glob) => glob_match(glob.as_bytes(), ty.name.as_bytes()),
        }
    }

    /// The entry as normalized.
    pub fn text(&self) -> &str {
        match self {
            InstancePattern::Exact(t) | InstancePattern::Family(t) | InstancePattern::Glob(t) => t,
        }
    }
}

/// A non-empty list of allowed instance types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowList {
    patterns: Vec<InstancePattern>,
}

impl AllowList {
    /// Parses entries such as `["m6i.large", "c7*", "r6g"]`.
    ///
    /// # Errors
    /// An empty list or an invalid entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, PolicyError> {
        if entries.is_empty() {
            return Err(PolicyError::EmptyAllowList);
        }
        let patterns = entries
            .iter()
            .enumerate()
            .map(|(i, e)| InstancePattern::parse(e.as_ref(), i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { patterns })
    }

    /// Parses a comma-separated list, `m6i.*,c7g.large`.
    ///
    /// # Errors
    /// As [`AllowList::parse`].
    pub fn parse_csv(list: &str) -> Result<Self, PolicyError> {
        let entries: Vec<&str> = list.split(',').filter(|e| !e.trim().is_empty()).collect();
        Self::parse(&entries)
    }

    /// The entries.
    pub fn patterns(&self) -> &[InstancePattern] {
        &self.patterns
    }

    /// True when some entry allows `ty`.
    pub fn allows(&self, ty: &InstanceType) -> bool {
        self.patterns.iter().any(|p| p.matches(ty))
    }
}

/// Iterative `*`/`?` matching with single-star backtracking: linear in
/// practice, no recursion, no allocation.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

pub(super) fn candidates(
    policy: &Policy,
    catalog: &Catalog,
) -> Result<Vec<Candidate>, PolicyError> {
    if let Some(list) = &policy.allowed_types {
        for pattern in list.patterns() {
            if !catalog.types().iter().any(|ty| pattern.matches(ty)) {
                return Err(PolicyError::UnknownInstanceType {
                    entry: pattern.text().to_string(),
                    region: catalog.region.clone(),
                });
            }
        }
    }

    let type_allowed = |ty: &InstanceType| {
        policy.allowed_types.as_ref().is_none_or(|l| l.allows(ty))
            && (policy.architectures.is_empty() || policy.architectures.contains(&ty.arch))
    };
    let mut names: Vec<Option<Arc<str>>> = vec![None; catalog.types().len()];
    let mut out = Vec::new();
    for offering in catalog.offerings() {
        let ty = catalog.instance_type(offering.instance_type);
        if !type_allowed(ty) || !policy.provisioning.allows(offering.capacity_type) {
            continue;
        }
        let capacity = catalog.usable_capacity(offering.instance_type, &policy.overhead);
        if capacity.millicpus == 0 || capacity.memory_mib == 0 {
            continue; // The overhead leaves nothing for tasks on this type.
        }
        let name = names[offering.instance_type.0 as usize]
            .get_or_insert_with(|| Arc::from(ty.name.as_str()))
            .clone();
        out.push(Candidate {
            offering: offering.id,
            capacity,
            price: offering.price,
            capacity_type: offering.capacity_type,
            arch: ty.arch,
            type_name: name,
        });
    }
    if out.is_empty() {
        return Err(PolicyError::NothingAllowed {
            why: format!(
                "provisioning {} with the given instance types and architectures matches no offering",
                policy.provisioning
            ),
        });
    }
    out.sort_by(|a, b| a.price.0.total_cmp(&b.price.0).then(a.offering.cmp(&b.offering)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_and_question_marks() {
        assert!(glob_match(b"m6i.*", b"m6i.large"));
        assert!(glob_match(b"c7*", b"c7gn.16xlarge"));
        assert!(!glob_match(b"c7*", b"c6i.large"));
        assert!(glob_match(b"r?i.*", b"r6i.xlarge"));
        assert!(glob_match(b"*.metal*", b"m7i.metal-24xl"));
        assert!(!glob_match(b"m6i.*", b"m6id.large"));
    }

    #[test]
    fn entries_parse_into_their_kind() {
        let exact = InstancePattern::parse("M6i.Large", 1).unwrap();
        assert_eq!(exact, InstancePattern::Exact("m6i.large".into()));
        assert_eq!(
            InstancePattern::parse("r6g", 1).unwrap(),
            InstancePattern::Family("r6g".into())
        );
        assert_eq!(InstancePattern::parse("c7*", 1).unwrap(), InstancePattern::Glob("c7*".into()));
        assert!(InstancePattern::parse(" ", 2).is_err());
        assert!(InstancePattern::parse("m6i/large", 3).is_err());
        assert_eq!(AllowList::parse::<&str>(&[]), Err(PolicyError::EmptyAllowList));
    }
}
