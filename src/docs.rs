//! Documentation made from the registries, so that no list of modules or
//! datasources is kept by hand: `cloudboot schema --docs` (cloud-init's
//! reStructuredText shape, from each module's [`ModuleInfo`]) and the
//! README's module and datasource tables (between marker comments,
//! rewritten by `scripts/readme-lists.sh`, checked by
//! `tests/readme_lists.rs`).

use crate::datasource::registry as datasources;
use crate::module::{Module, ModuleInfo};
use crate::schema::{Field, Rule, Ty};
use crate::stages::{Stage, StageMap};

/// A `--docs` request or a README that the docs cannot be made for.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DocsError {
    /// Names no module has (as Python reprs), and the valid ones:
    /// cloud-init's message.
    #[error("Invalid --docs value [{}]. Must be one of: {}", .invalid.join(", "), .valid.join(", "))]
    InvalidModules {
        invalid: Vec<String>,
        valid: Vec<String>,
    },
    /// A generated table's begin marker (the line) is not in README.md.
    #[error("README.md has no line {0}")]
    NoBeginMarker(String),
    #[error("README.md has no line {end} after {begin}")]
    NoEndMarker { begin: String, end: String },
}

/// `cloud-init schema --docs NAME...`: each requested module's doc, in
/// registry order (as cloud-init, whatever order they were asked in).
/// `all` asks for every module; a module may be named as cloud-init names it
/// (`cc_runcmd`) or by any name cloudboot accepts for it (`runcmd`). An
/// unknown name is the error cloud-init gives, listing the valid ones.
pub fn module_docs(requested: &[String]) -> Result<String, DocsError> {
    let all = crate::modules::all();
    let mut wanted: Vec<&'static str> = Vec::new();
    let mut invalid: Vec<&str> = Vec::new();
    for r in requested {
        if r == "all" {
            wanted.extend(all.iter().map(|m| m.info().name));
        } else {
            match crate::stages::lookup(r) {
                Some(m) => wanted.push(m.info().name),
                None => invalid.push(r),
            }
        }
    }
    if !invalid.is_empty() {
        let invalid: Vec<String> = invalid
            .iter()
            .map(|n| crate::value::python_str_repr(n))
            .collect();
        let valid: Vec<String> = all
            .iter()
            .map(|m| format!("cc_{}", m.info().name))
            .chain(["all".to_string()])
            .collect();
        return Err(DocsError::InvalidModules { invalid, valid });
    }
    Ok(all
        .iter()
        .filter(|m| wanted.contains(&m.info().name))
        .map(|m| module_doc(*m))
        .collect())
}

/// One module's doc, in the shape of cloud-init's `SCHEMA_DOC_TMPL` (which
/// has a description and examples where cloudboot has a one-line summary).
pub fn module_doc(module: &dyn Module) -> String {
    let info = module.info();
    let distros = match module.distros() {
        [] => "all".to_string(),
        d => d.join(", "),
    };
    let activate = if info.activate_by.is_empty() {
        String::new()
    } else {
        format!(
            "**Activate only on keys:** {}\n\n",
            literals(info.activate_by)
        )
    };
    let properties = config_keys(info);
    let schema = if properties.is_empty() {
        String::new()
    } else {
        format!("**Config schema**:\n{properties}\n")
    };
    format!(
        "\n{name}\n{underbar}\n**Summary:** {summary}\n\n**Internal name:** ``cc_{name}``\n\n\
         **Module frequency:** {frequency}\n\n**Supported distros:** {distros}\n\n\
         {activate}{schema}\n",
        name = info.name,
        underbar = "-".repeat(info.name.len()),
        summary = info.summary,
        frequency = info.frequency.as_str(),
    )
}

/// `` ``a``, ``b`` ``.
fn literals(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("``{k}``"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keys the module reads, each with its type where the schema gives
/// one, then schema keys the key list lacks.
fn config_keys(info: &ModuleInfo) -> String {
    let mut out: Vec<String> = Vec::new();
    for key in info.keys {
        match info.schema.iter().find(|f| f.name == *key) {
            Some(f) => out.push(field_doc(f, "    ")),
            None => out.push(format!("    **{key}:**")),
        }
    }
    for f in info.schema.iter().filter(|f| !info.keys.contains(&f.name)) {
        out.push(field_doc(f, "    "));
    }
    out.join("\n\n")
}

/// `**name:** (type)`, then the keys of a mapping (or of a list's
/// mappings), indented one step further.
fn field_doc(field: &Field, prefix: &str) -> String {
    let required = if field.required { " Required." } else { "" };
    let mut out = format!(
        "{prefix}**{}:** ({}){required}",
        field.name,
        type_doc(&field.ty)
    );
    let inner = format!("{prefix}    ");
    match &field.ty {
        Ty::Map(fields) | Ty::MapPart(fields) => out.push_str(&fields_doc(fields, &inner)),
        Ty::List(item) | Ty::Entries(item) => {
            if let Some(fields) = mapping_fields(item) {
                out.push_str(&format!(
                    "\n\n{inner}Each object in **{}** list supports the following keys:",
                    field.name
                ));
                out.push_str(&fields_doc(fields, &format!("{inner}    ")));
            }
        }
        Ty::OneOf(alternatives) => {
            if let Some(fields) = alternatives.iter().find_map(mapping_fields_of_map) {
                out.push_str(&fields_doc(fields, &inner));
            }
        }
        _ => {}
    }
    out
}

fn fields_doc(fields: &[Field], prefix: &str) -> String {
    fields
        .iter()
        .map(|f| format!("\n\n{}", field_doc(f, prefix)))
        .collect()
}

/// The keys of a mapping type, also one among alternatives.
fn mapping_fields(ty: &Ty) -> Option<&'static [Field]> {
    match ty {
        Ty::OneOf(alternatives) => alternatives.iter().find_map(mapping_fields_of_map),
        other => mapping_fields_of_map(other),
    }
}

fn mapping_fields_of_map(ty: &Ty) -> Option<&'static [Field]> {
    match ty {
        Ty::Map(fields) | Ty::MapPart(fields) => Some(fields),
        _ => None,
    }
}

/// The type 22.4's schema gives (a [`Rule::As`] form where the module reads
/// more), through the constraints.
fn schema_form(ty: &Ty) -> &Ty {
    match ty {
        Ty::Strict(_, Rule::As(t) | Rule::Secret(t)) => schema_form(t),
        Ty::Strict(inner, _) => schema_form(inner),
        t => t,
    }
}

/// A type as cloud-init's docs write it: `string`, `array of string`,
/// `(``a``/``b``)`, `object`, `string/null`.
pub fn type_doc(ty: &Ty) -> String {
    match schema_form(ty) {
        Ty::Strict(..) => unreachable!("schema_form sees through these"),
        Ty::Any => "any".into(),
        Ty::Str | Ty::StrOrBytes => "string".into(),
        Ty::Bool => "boolean".into(),
        Ty::Int => "integer".into(),
        Ty::Number => "number".into(),
        Ty::Null => "null".into(),
        Ty::Enum(values) => values
            .iter()
            .map(|v| format!("``{v}``"))
            .collect::<Vec<_>>()
            .join("/"),
        Ty::List(item) | Ty::Entries(item) => match schema_form(item) {
            Ty::OneOf(_) | Ty::Enum(_) => format!("array of ({})", type_doc(item)),
            _ => format!("array of {}", type_doc(item)),
        },
        Ty::Map(_) | Ty::MapPart(_) | Ty::AnyMap => "object".into(),
        Ty::OneOf(alternatives) => alternatives
            .iter()
            .map(type_doc)
            .collect::<Vec<_>>()
            .join("/"),
    }
}

// ---------------------------------------------------------------------------
// The README's tables

/// The README's generated tables: (marker name, table).
pub fn readme_tables(map: &StageMap) -> Vec<(&'static str, String)> {
    vec![
        ("modules", modules_table(map)),
        ("datasources", datasources_table(map)),
        ("doctor checks", doctor_table()),
    ]
}

/// Every check of `cloudboot doctor`: its id and what it finds.
pub fn doctor_table() -> String {
    let mut out = String::from("| Check | What it finds |\n|---|---|\n");
    for c in crate::doctor::registry::CHECKS {
        out.push_str(&format!("| `{}` | {} |\n", c.id, escape_cell(c.about)));
    }
    out
}

/// Every module: the stage stages.yaml places it in, its frequency, the
/// distributions it runs on without `unverified_modules`, the keys that
/// switch it on, its summary.
pub fn modules_table(map: &StageMap) -> String {
    let mut out = String::from(
        "| Module | Stage | Frequency | Distros | Runs when the config has | What it does |\n\
         |---|---|---|---|---|---|\n",
    );
    for m in crate::modules::all() {
        let info = m.info();
        let stages: Vec<&str> = Stage::ALL
            .iter()
            .filter(|s| {
                map.stage(**s)
                    .modules
                    .iter()
                    .any(|d| d.module.info().name == info.name)
            })
            .map(|s| s.name())
            .collect();
        let activation = if info.activate_by.is_empty() {
            "(any config)".to_string()
        } else {
            code_list(info.activate_by)
        };
        let distros = if m.distros().is_empty() {
            "all".to_string()
        } else {
            m.distros().join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            info.name,
            or_dash(&stages.join(", ")),
            info.frequency.as_str(),
            distros,
            activation,
            escape_cell(info.summary)
        ));
    }
    out
}

/// Every datasource, in cloud-init's `datasource_list` order: the stages
/// that search it and its summary.
pub fn datasources_table(map: &StageMap) -> String {
    let mut out = String::from(
        "| Datasource | Searched in | What it reads |\n\
         |---|---|---|\n",
    );
    for d in datasources::all() {
        let info = d.info();
        let stages: Vec<&str> = Stage::ALL
            .iter()
            .filter(|s| map.stage(**s).datasources.iter().any(|n| n == info.name))
            .map(|s| s.name())
            .collect();
        let name = if info.aliases.is_empty() {
            format!("`{}`", info.name)
        } else {
            format!("`{}` (also {})", info.name, code_list(info.aliases))
        };
        out.push_str(&format!(
            "| {name} | {} | {} |\n",
            or_dash(&stages.join(", ")),
            escape_cell(info.summary)
        ));
    }
    out
}

fn code_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s.to_string()
    }
}

/// A table cell: a `|` would end it.
fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The comment that opens a generated part of the README.
pub fn begin_marker(name: &str) -> String {
    format!("<!-- {name}: generated from the registry by scripts/readme-lists.sh; do not edit -->")
}

/// The comment that closes it.
pub fn end_marker(name: &str) -> String {
    format!("<!-- end of {name} -->")
}

/// `readme` with the text between each table's markers replaced by the
/// table; an error names a marker that is missing or out of order.
pub fn update_readme(readme: &str, tables: &[(&str, String)]) -> Result<String, DocsError> {
    let mut out = readme.to_string();
    for (name, table) in tables {
        let (begin, end) = (begin_marker(name), end_marker(name));
        let start = out
            .find(&begin)
            .ok_or_else(|| DocsError::NoBeginMarker(begin.clone()))?
            + begin.len();
        let stop = out[start..]
            .find(&end)
            .ok_or_else(|| DocsError::NoEndMarker {
                begin: begin.clone(),
                end: end.clone(),
            })?
            + start;
        out.replace_range(start..stop, &format!("\n{table}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_as_cloud_inits_docs_write_them() {
        static ITEM: Ty = Ty::OneOf(&[Ty::List(&Ty::Str), Ty::Str, Ty::Null]);
        assert_eq!(
            type_doc(&Ty::List(&ITEM)),
            "array of (array of string/string/null)"
        );
        assert_eq!(type_doc(&Ty::Enum(&["a", "b"])), "``a``/``b``");
        assert_eq!(type_doc(&Ty::OneOf(&[Ty::Bool, Ty::Str])), "boolean/string");
        assert_eq!(type_doc(&Ty::AnyMap), "object");
    }

    #[test]
    fn unknown_names_are_refused_as_cloud_init_refuses_them() {
        let err = module_docs(&["cc_nope".into(), "runcmd".into()])
            .unwrap_err()
            .to_string();
        // The registry's first and last modules (issue 13 adds modules on
        // either side of bootcmd .. write_files_deferred).
        let all = crate::modules::all();
        let (first, last) = (all[0].info().name, all[all.len() - 1].info().name);
        assert!(
            err.starts_with(&format!(
                "Invalid --docs value ['cc_nope']. Must be one of: cc_{first}, "
            )),
            "{err}"
        );
        assert!(err.ends_with(&format!(", cc_{last}, all")), "{err}");
    }

    #[test]
    fn requested_modules_come_in_registry_order_once() {
        let docs =
            module_docs(&["cc_runcmd".into(), "bootcmd".into(), "cc_runcmd".into()]).unwrap();
        assert_eq!(docs.matches("\n**Summary:** ").count(), 2);
        assert!(docs.find("\nbootcmd\n-------\n") < docs.find("\nruncmd\n------\n"));
    }

    #[test]
    fn markers_are_rewritten_and_the_rest_kept() {
        let text = format!(
            "a\n{}\nold\n{}\nb\n",
            begin_marker("modules"),
            end_marker("modules")
        );
        let new = update_readme(&text, &[("modules", "| x |\n".into())]).unwrap();
        assert_eq!(
            new,
            format!(
                "a\n{}\n| x |\n{}\nb\n",
                begin_marker("modules"),
                end_marker("modules")
            )
        );
        assert!(update_readme("a\n", &[("modules", String::new())]).is_err());
    }
}
