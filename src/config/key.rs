//! [`ObjectKey`]: the identity of a configured object, `class/name`.

use super::ObjectClass;
use std::fmt;

/// Identifies a graded object: `class/name`, e.g. `tld/cn`, `recursive/lab-gd`. The form the
/// ledger stores, the API serves and alerts carry. Built from a class and a name, or parsed
/// (and checked) from that text; it reads as a `&str` of the whole key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    key: String,
    class: ObjectClass,
}

impl ObjectKey {
    /// The key of object `name` of `class`.
    pub fn new(class: ObjectClass, name: &str) -> Self {
        ObjectKey {
            key: format!("{}/{}", class.as_str(), name),
            class,
        }
    }

    /// The object's class.
    pub fn class(&self) -> ObjectClass {
        self.class
    }

    /// The object's name (after the class and the slash).
    pub fn name(&self) -> &str {
        let prefix = self.class.as_str().len() + 1;
        self.key.get(prefix..).unwrap_or_default()
    }

    /// The whole key.
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// Why a text is not an object key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an object key: write class/name, e.g. \"tld/cn\" (classes: tld, institution, website, recursive, control)")]
pub struct ObjectKeyError(pub String);

impl std::str::FromStr for ObjectKey {
    type Err = ObjectKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (class, name) = s
            .split_once('/')
            .ok_or_else(|| ObjectKeyError(s.to_string()))?;
        let class = ObjectClass::ALL
            .into_iter()
            .find(|c| c.as_str() == class)
            .ok_or_else(|| ObjectKeyError(s.to_string()))?;
        if name.is_empty() {
            return Err(ObjectKeyError(s.to_string()));
        }
        Ok(ObjectKey::new(class, name))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl std::ops::Deref for ObjectKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.key
    }
}

/// Hashes the text only, as `str` does: maps keyed by `ObjectKey` are looked up with a `&str`.
impl std::hash::Hash for ObjectKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key.hash(h);
    }
}

impl std::borrow::Borrow<str> for ObjectKey {
    fn borrow(&self) -> &str {
        &self.key
    }
}

impl PartialEq<str> for ObjectKey {
    fn eq(&self, other: &str) -> bool {
        self.key == other
    }
}

impl PartialEq<&str> for ObjectKey {
    fn eq(&self, other: &&str) -> bool {
        self.key == *other
    }
}

impl PartialEq<String> for ObjectKey {
    fn eq(&self, other: &String) -> bool {
        &self.key == other
    }
}

impl serde::Serialize for ObjectKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key)
    }
}

impl<'de> serde::Deserialize<'de> for ObjectKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl rusqlite::ToSql for ObjectKey {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.key.to_sql()
    }
}

impl rusqlite::types::FromSql for ObjectKey {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        s.parse()
            .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints_and_refuses_other_text() {
        let k: ObjectKey = "institution/Lab registrar/x".parse().expect("key");
        assert_eq!(k.class(), ObjectClass::Institution);
        assert_eq!(k.name(), "Lab registrar/x");
        assert_eq!(k.to_string(), "institution/Lab registrar/x");
        assert_eq!(
            k,
            ObjectKey::new(ObjectClass::Institution, "Lab registrar/x")
        );
        assert_eq!(k, "institution/Lab registrar/x");
        for bad in [
            "",
            "cn",
            "tld/",
            "/cn",
            "../../etc/passwd",
            "TLD/cn",
            "zone/cn",
        ] {
            assert!(bad.parse::<ObjectKey>().is_err(), "{bad:?} parsed");
        }
        let json = serde_json::to_string(&k).expect("json");
        assert_eq!(json, "\"institution/Lab registrar/x\"");
        assert_eq!(serde_json::from_str::<ObjectKey>(&json).expect("back"), k);
        assert!(serde_json::from_str::<ObjectKey>("\"nope\"").is_err());
    }
}
