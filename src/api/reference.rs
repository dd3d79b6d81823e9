//! The API reference (`docs/crd-reference.md`): SpreadPolicy and ClusterSpreadPolicy, generated
//! from the CRDs' OpenAPI schemas so that it cannot drift from what the API server enforces. Pure: schema in, Markdown out.

use std::fmt::Write as _;

use serde_json::Value;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::crds;

/// Why the reference could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum RenderReference {
    /// The CRD has no served version with an OpenAPI schema.
    #[error("the {0} CRD has no version with an openAPIV3Schema")]
    NoSchema(String),
    /// The schema could not be read as JSON.
    #[error("a CRD schema is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// One documented field.
struct Row {
    path: String,
    kind: String,
    default: String,
    validation: Vec<String>,
    description: String,
}

/// The reference as Markdown: per CRD, one table per top-level section (spec, status), one row
/// per field, with its type, default, validation (OpenAPI and CEL) and description.
pub fn crd_reference() -> Result<String, RenderReference> {
    let mut out = String::new();
    let _ = writeln!(out, "# kube-spread API reference\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the CRD schemas by src/api/reference.rs; do not edit. Regenerate with\n     KUBE_SPREAD_BLESS=1 cargo test --test docs -->\n"
    );
    let _ = writeln!(
        out,
        "Every field below is checked by the API server on `kubectl apply`: types, enums, bounds,\npatterns and the CEL rules listed under Validation. Defaults are filled in by the API server, so\n`kubectl get -o yaml` shows them.\n"
    );
    for (_, crd) in crds() {
        render(&crd, &mut out)?;
    }
    Ok(out)
}

/// One CRD's part of the reference.
fn render(crd: &CustomResourceDefinition, out: &mut String) -> Result<(), RenderReference> {
    let names = &crd.spec.names;
    let version = crd
        .spec
        .versions
        .first()
        .ok_or_else(|| RenderReference::NoSchema(names.kind.clone()))?;
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .ok_or_else(|| RenderReference::NoSchema(names.kind.clone()))?;
    let schema = serde_json::to_value(schema)?;

    let _ = writeln!(out, "## {}\n", names.kind);
    let _ = writeln!(
        out,
        "`{}/{}`, kind `{}`, {} (`kubectl get {}`{}).\n",
        crd.spec.group,
        version.name,
        names.kind,
        crd.spec.scope.to_lowercase(),
        names.plural,
        names
            .short_names
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|s| format!(", `kubectl get {s}`"))
            .collect::<String>(),
    );
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{}\n", one_line(description));
    }

    if let Some(columns) = &version.additional_printer_columns {
        let _ = writeln!(out, "### Columns of `kubectl get {}`\n", names.plural);
        let _ = writeln!(out, "| Column | Type | Source | Description |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for column in columns {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} |",
                column.name,
                column.type_,
                escape(&column.json_path),
                escape(column.description.as_deref().unwrap_or("")),
            );
        }
        let _ = writeln!(out);
    }

    let properties = schema.get("properties").and_then(Value::as_object);
    let required = required_of(&schema);
    for section in ["spec", "status"] {
        let Some(section_schema) = properties.and_then(|p| p.get(section)) else {
            continue;
        };
        let _ = writeln!(out, "### {} {section}\n", names.kind);
        if let Some(description) = section_schema.get("description").and_then(Value::as_str) {
            let _ = writeln!(out, "{}\n", one_line(description));
        }
        let mut rows = Vec::new();
        collect(
            section,
            section_schema,
            required.contains(&section),
            &mut rows,
        );
        let _ = writeln!(out, "| Field | Type | Default | Validation | Description |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for row in rows {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                row.path,
                row.kind,
                row.default,
                if row.validation.is_empty() {
                    String::new()
                } else {
                    row.validation.join("<br>")
                },
                escape(&row.description),
            );
        }
        let _ = writeln!(out);
    }
    Ok(())
}

fn collect(path: &str, schema: &Value, required: bool, rows: &mut Vec<Row>) {
    let mut validation = Vec::new();
    if required {
        validation.push("required".to_owned());
    }
    validation.extend(rules(schema));
    let items = schema.get("items");
    let item_is_object = items.is_some_and(|i| i.get("properties").is_some());
    if let Some(items) = items.filter(|_| !item_is_object) {
        validation.extend(rules(items).into_iter().map(|r| format!("each item: {r}")));
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        validation.extend(
            rules(values)
                .into_iter()
                .map(|r| format!("each value: {r}")),
        );
    }
    rows.push(Row {
        path: path.to_owned(),
        kind: kind(schema),
        default: schema
            .get("default")
            .map(|d| format!("`{}`", escape(&d.to_string())))
            .unwrap_or_default(),
        validation,
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .map(one_line)
            .unwrap_or_default(),
    });
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let required = required_of(schema);
        for (name, child) in properties {
            collect(
                &format!("{path}.{name}"),
                child,
                required.contains(&name.as_str()),
                rows,
            );
        }
    }
    if let Some(items) = items.filter(|_| item_is_object)
        && let Some(properties) = items.get("properties").and_then(Value::as_object)
    {
        let required = required_of(items);
        let item_rules = rules(items);
        if !item_rules.is_empty() {
            rows.push(Row {
                path: format!("{path}[]"),
                kind: "object".to_owned(),
                default: String::new(),
                validation: item_rules,
                description: items
                    .get("description")
                    .and_then(Value::as_str)
                    .map(one_line)
                    .unwrap_or_default(),
            });
        }
        for (name, child) in properties {
            collect(
                &format!("{path}[].{name}"),
                child,
                required.contains(&name.as_str()),
                rows,
            );
        }
    }
}

fn required_of(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn kind(schema: &Value) -> String {
    let base = schema.get("type").and_then(Value::as_str).unwrap_or("any");
    let mut kind = match base {
        "array" => format!(
            "array of {}",
            schema.get("items").map_or_else(|| "any".to_owned(), kind)
        ),
        "object" => match schema.get("additionalProperties") {
            Some(values) if values.is_object() => format!("map of {}", kind(values)),
            _ => "object".to_owned(),
        },
        other => other.to_owned(),
    };
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(kind, " ({format})");
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        kind.push_str(", nullable");
    }
    kind
}

/// The schema's own constraints, one phrase each (not its children's).
fn rules(schema: &Value) -> Vec<String> {
    let object = schema.as_object();
    let get = |key: &str| object.and_then(|o| o.get(key));
    let mut out = Vec::new();
    if let Some(values) = get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| {
                format!(
                    "`{}`",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        out.push(format!("one of {}", values.join(", ")));
    }
    if let Some(min) = get("minimum") {
        out.push(format!("minimum {}", number(min)));
    }
    if let Some(max) = get("maximum") {
        out.push(format!("maximum {}", number(max)));
    }
    match (get("minLength"), get("maxLength")) {
        (Some(min), Some(max)) => out.push(format!("{}–{} characters", number(min), number(max))),
        (Some(min), None) => out.push(format!("at least {} characters", number(min))),
        (None, Some(max)) => out.push(format!("at most {} characters", number(max))),
        (None, None) => {}
    }
    if let Some(pattern) = get("pattern").and_then(Value::as_str) {
        out.push(format!("pattern `{}`", escape(pattern)));
    }
    if let Some(min) = get("minItems") {
        out.push(format!("at least {}", items(min)));
    }
    if let Some(max) = get("maxItems") {
        out.push(format!("at most {}", items(max)));
    }
    match get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => out.push("items unique (list type set)".to_owned()),
        Some("map") => {
            let keys: Vec<String> = get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| {
                    k.iter()
                        .filter_map(Value::as_str)
                        .map(|k| format!("`{k}`"))
                        .collect()
                })
                .unwrap_or_default();
            out.push(format!(
                "one item per {} (list type map)",
                keys.join(" and ")
            ));
        }
        _ => {}
    }
    for rule in get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let expression = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
        match rule.get("message").and_then(Value::as_str) {
            Some(message) => out.push(format!(
                "CEL `{}`: {}",
                escape(&one_line(expression)),
                escape(message)
            )),
            None => out.push(format!("CEL `{}`", escape(&one_line(expression)))),
        }
    }
    out
}

fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        _ => value.to_string(),
    }
}

fn items(count: &Value) -> String {
    match number(count).as_str() {
        "1" => "1 item".to_owned(),
        n => format!("{n} items"),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Makes text safe inside a Markdown table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_name_arrays_maps_formats_and_nullability() {
        assert_eq!(
            kind(&json!({"type": "array", "items": {"type": "string"}})),
            "array of string"
        );
        assert_eq!(
            kind(&json!({"type": "object", "additionalProperties": {"type": "string"}})),
            "map of string"
        );
        assert_eq!(
            kind(&json!({"type": "integer", "format": "int32", "nullable": true})),
            "integer (int32), nullable"
        );
    }

    #[test]
    fn rules_read_bounds_enums_and_cel_with_pipes_escaped() {
        let found = rules(&json!({
            "enum": ["Evict", "Off"], "minimum": 1.0, "maxLength": 63,
            "x-kubernetes-validations": [{"rule": "a || b", "message": "m"}]
        }));
        assert_eq!(
            found,
            vec![
                "one of `Evict`, `Off`",
                "minimum 1",
                "at most 63 characters",
                "CEL `a \\|\\| b`: m"
            ]
        );
    }
}
