//! Convox-style IDs: `R` or `B` followed by ten random upper-case letters.

use rand::RngExt;

/// Letters after the prefix of a generated ID.
const ID_LETTERS: usize = 10;

/// The kind of object an ID names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A Release (`R…`).
    Release,
    /// A Build (`B…`).
    Build,
}

/// A new random ID in Convox's form, e.g. `RBCDEFGHIJ`.
pub fn new_id(kind: IdKind) -> String {
    let prefix = match kind {
        IdKind::Release => 'R',
        IdKind::Build => 'B',
    };
    let mut rng = rand::rng();
    std::iter::once(prefix)
        .chain((0..ID_LETTERS).map(|_| rng.random_range(b'A'..=b'Z') as char))
        .collect()
}

/// Whether `s` has the form of a generated ID (either case).
pub fn is_generated(s: &str) -> bool {
    s.len() == ID_LETTERS + 1
        && matches!(s.as_bytes()[0].to_ascii_uppercase(), b'R' | b'B')
        && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The Kubernetes object name for an ID a person typed: generated IDs are lower-cased.
pub fn object_name(id: &str) -> String {
    if is_generated(id) {
        id.to_ascii_lowercase()
    } else {
        id.to_string()
    }
}

/// The ID to show for an object name: generated IDs are upper-cased, names people chose are kept.
pub fn display_id(name: &str) -> String {
    if is_generated(name) {
        name.to_ascii_uppercase()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_have_convox_form() {
        let id = new_id(IdKind::Release);
        assert_eq!(id.len(), 11);
        assert!(id.starts_with('R'));
        assert!(id.chars().all(|c| c.is_ascii_uppercase()));
        assert!(new_id(IdKind::Build).starts_with('B'));
        assert_ne!(new_id(IdKind::Release), new_id(IdKind::Release));
    }

    #[test]
    fn ids_map_to_lowercase_object_names_and_back() {
        assert_eq!(object_name("RBCDEFGHIJK"), "rbcdefghijk");
        assert_eq!(object_name("rbcdefghijk"), "rbcdefghijk");
        assert_eq!(display_id("rbcdefghijk"), "RBCDEFGHIJK");
        assert_eq!(object_name("v1-hand-written"), "v1-hand-written");
        assert_eq!(display_id("v1-hand-written"), "v1-hand-written");
        assert!(!is_generated("Xbcdefghijk"));
        assert!(!is_generated("R12"));
        assert!(!is_generated(""));
    }
}
