//! RFC 6902 JSON Patch over config values, for `#cloud-config-jsonp` parts
//! (cloud-init applies them to the cloud-config merged so far).

use crate::value::Value;

/// A patch that cannot be applied; the config it was meant for stays as it
/// was.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchError {
    #[error("a JSON patch must be a list of operations")]
    NotAList,
    /// Operation `index` (from 0) of the patch.
    #[error("operation {index}: {error}")]
    Operation { index: usize, error: OpError },
}

/// What is wrong with one operation. Paths are JSON pointers without their
/// leading `/`, as the messages print them after one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OpError {
    #[error("missing '{0}'")]
    MissingField(String),
    #[error("'{0}' must be a string")]
    NotAString(String),
    #[error("'{0}' is not a JSON pointer")]
    NotAPointer(String),
    #[error("unknown op '{0}'")]
    UnknownOp(String),
    #[error("test failed at /{0}")]
    TestFailed(String),
    #[error("no member /{0}")]
    NoMember(String),
    #[error("the root cannot be the target")]
    RootTarget,
    #[error("bad index '{0}'")]
    BadIndex(String),
    #[error("cannot add under a scalar at /{0}")]
    UnderScalar(String),
}

/// Applies a patch document (a JSON array of operations) to `doc`.
pub fn apply(doc: &Value, patch: &serde_json::Value) -> Result<Value, PatchError> {
    let ops = patch.as_array().ok_or(PatchError::NotAList)?;
    let mut doc = doc.clone();
    for (index, op) in ops.iter().enumerate() {
        apply_one(&mut doc, op).map_err(|error| PatchError::Operation { index, error })?;
    }
    Ok(doc)
}

fn field<'a>(op: &'a serde_json::Value, name: &str) -> Result<&'a serde_json::Value, OpError> {
    op.get(name)
        .ok_or_else(|| OpError::MissingField(name.to_string()))
}

fn pointer(op: &serde_json::Value, name: &str) -> Result<Vec<String>, OpError> {
    let p = field(op, name)?
        .as_str()
        .ok_or_else(|| OpError::NotAString(name.to_string()))?;
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p
        .strip_prefix('/')
        .ok_or_else(|| OpError::NotAPointer(p.to_string()))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn apply_one(doc: &mut Value, op: &serde_json::Value) -> Result<(), OpError> {
    let name = field(op, "op")?.as_str().unwrap_or_default();
    let path = pointer(op, "path")?;
    match name {
        "add" => add(doc, &path, Value::from_json(field(op, "value")?)),
        "remove" => remove(doc, &path).map(|_| ()),
        "replace" => {
            remove(doc, &path)?;
            add(doc, &path, Value::from_json(field(op, "value")?))
        }
        "move" => {
            let from = pointer(op, "from")?;
            let v = remove(doc, &from)?;
            add(doc, &path, v)
        }
        "copy" => {
            let from = pointer(op, "from")?;
            let v = get(doc, &from)?.clone();
            add(doc, &path, v)
        }
        "test" => {
            let want = Value::from_json(field(op, "value")?);
            if *get(doc, &path)? == want {
                Ok(())
            } else {
                Err(OpError::TestFailed(path.join("/")))
            }
        }
        other => Err(OpError::UnknownOp(other.to_string())),
    }
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Result<&'a Value, OpError> {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Value::Map(m) => m.get(seg),
            Value::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get(i)),
            _ => None,
        }
        .ok_or_else(|| OpError::NoMember(path.join("/")))?;
    }
    Ok(cur)
}

fn parent<'a>(doc: &'a mut Value, path: &[String]) -> Result<(&'a mut Value, String), OpError> {
    let (last, init) = path.split_last().ok_or(OpError::RootTarget)?;
    let mut cur = doc;
    for seg in init {
        cur = match cur {
            Value::Map(m) => m.get_mut(seg),
            Value::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| OpError::NoMember(path.join("/")))?;
    }
    Ok((cur, last.clone()))
}

fn add(doc: &mut Value, path: &[String], v: Value) -> Result<(), OpError> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Map(m) => {
            m.insert(Value::Str(last), v);
            Ok(())
        }
        Value::Seq(s) if last == "-" => {
            s.push(v);
            Ok(())
        }
        Value::Seq(s) => match last.parse::<usize>() {
            Ok(i) if i <= s.len() => {
                s.insert(i, v);
                Ok(())
            }
            _ => Err(OpError::BadIndex(last)),
        },
        _ => Err(OpError::UnderScalar(path.join("/"))),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, OpError> {
    let (p, last) = parent(doc, path)?;
    let missing = || OpError::NoMember(path.join("/"));
    match p {
        Value::Map(m) => m.remove(&last).ok_or_else(missing),
        Value::Seq(s) => match last.parse::<usize>() {
            Ok(i) if i < s.len() => Ok(s.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6902_operations() {
        let doc = Value::from_json(&serde_json::json!({"packages": ["a"], "x": {"y": 1}}));
        let patch = serde_json::json!([
            {"op": "add", "path": "/packages/-", "value": "b"},
            {"op": "replace", "path": "/x/y", "value": 2},
            {"op": "copy", "from": "/x", "path": "/z"},
            {"op": "move", "from": "/z/y", "path": "/w"},
            {"op": "test", "path": "/w", "value": 2},
            {"op": "remove", "path": "/x"}
        ]);
        let out = apply(&doc, &patch).unwrap();
        assert_eq!(
            out.to_json(),
            serde_json::json!({"packages": ["a", "b"], "z": {}, "w": 2})
        );
        assert!(apply(
            &doc,
            &serde_json::json!([{"op": "remove", "path": "/nope"}])
        )
        .is_err());
    }
}
