//! The README's examples, read from the README itself so that what it shows is what the tests run.

/// The first YAML block under a `## heading` of README.md, parsed.
pub fn yaml_under(heading: &str) -> serde_json::Value {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let section = readme
        .split(&format!("## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("the README has a section {heading:?}"));
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("the section holds a yaml block");
    serde_saphyr::from_str(yaml).expect("the README's block is YAML")
}
