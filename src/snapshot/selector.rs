//! Converts Kubernetes label and node selectors into the planner's, with apimachinery's checks:
//! a null label selector matches nothing, an empty one everything, and a bad operator or a
//! wrong number of values is an error naming the field.

use k8s_openapi::{api::core::v1 as core, apimachinery::pkg::apis::meta::v1 as meta};

use super::FieldError;
use crate::planner::selector::{
    LabelSelector, NodeSelector, NodeSelectorTerm, Operator, Requirement,
};

/// `metav1.LabelSelectorAsSelector`: None is Nothing, `{}` is everything.
pub fn label_selector(selector: Option<&meta::LabelSelector>) -> Result<LabelSelector, FieldError> {
    let Some(selector) = selector else {
        return Ok(LabelSelector::Nothing);
    };
    let mut requirements = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        requirements.push(Requirement::equals(key, value));
    }
    for (index, expression) in selector.match_expressions.iter().flatten().enumerate() {
        let operator = match expression.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(FieldError::new(
                    format!("matchExpressions[{index}].operator"),
                    format!(
                        "{other:?} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)"
                    ),
                ));
            }
        };
        let values = expression.values.clone().unwrap_or_default();
        check_values(operator, &values).map_err(|message| {
            FieldError::new(format!("matchExpressions[{index}].values"), message)
        })?;
        requirements.push(Requirement::new(&expression.key, operator, values));
    }
    Ok(LabelSelector::from_requirements(requirements))
}

/// A required node affinity (`requiredDuringSchedulingIgnoredDuringExecution`).
pub fn node_selector(selector: &core::NodeSelector) -> Result<NodeSelector, FieldError> {
    let mut terms = Vec::with_capacity(selector.node_selector_terms.len());
    for (index, term) in selector.node_selector_terms.iter().enumerate() {
        terms.push(
            node_selector_term(term)
                .map_err(|error| error.under(&format!("nodeSelectorTerms[{index}]")))?,
        );
    }
    Ok(NodeSelector { terms })
}

/// One node selector term (also a preferred term's `preference`).
pub fn node_selector_term(term: &core::NodeSelectorTerm) -> Result<NodeSelectorTerm, FieldError> {
    let mut match_expressions = Vec::new();
    for (index, requirement) in term.match_expressions.iter().flatten().enumerate() {
        match_expressions.push(
            node_requirement(requirement)
                .map_err(|error| error.under(&format!("matchExpressions[{index}]")))?,
        );
    }
    let mut match_fields = Vec::new();
    for (index, requirement) in term.match_fields.iter().flatten().enumerate() {
        let parsed = node_requirement(requirement)
            .map_err(|error| error.under(&format!("matchFields[{index}]")))?;
        // Upstream only supports metadata.name with In or NotIn and exactly one value.
        let supported = parsed.key == "metadata.name"
            && matches!(parsed.operator, Operator::In | Operator::NotIn)
            && parsed.values.len() == 1;
        if !supported {
            return Err(FieldError::new(
                format!("matchFields[{index}]"),
                "only metadata.name with In or NotIn and exactly one value is supported",
            ));
        }
        match_fields.push(parsed);
    }
    Ok(NodeSelectorTerm {
        match_expressions,
        match_fields,
    })
}

fn node_requirement(
    requirement: &core::NodeSelectorRequirement,
) -> Result<Requirement, FieldError> {
    let operator = match requirement.operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::Gt,
        "Lt" => Operator::Lt,
        other => {
            return Err(FieldError::new(
                "operator",
                format!(
                    "{other:?} is not a valid node selector operator (In, NotIn, Exists, DoesNotExist, Gt, Lt)"
                ),
            ));
        }
    };
    let values = requirement.values.clone().unwrap_or_default();
    check_values(operator, &values).map_err(|message| FieldError::new("values", message))?;
    Ok(Requirement::new(&requirement.key, operator, values))
}

/// `labels.NewRequirement`'s value checks.
fn check_values(operator: Operator, values: &[String]) -> Result<(), String> {
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            Err("must have at least one value for In and NotIn".to_owned())
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            Err("must have no values for Exists and DoesNotExist".to_owned())
        }
        Operator::Gt | Operator::Lt => match values {
            [value] if value.parse::<i64>().is_ok() => Ok(()),
            _ => Err("must have exactly one integer value for Gt and Lt".to_owned()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expression(
        key: &str,
        operator: &str,
        values: Option<&[&str]>,
    ) -> meta::LabelSelectorRequirement {
        meta::LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: values.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn a_missing_selector_matches_nothing_and_an_empty_one_everything() {
        assert_eq!(label_selector(None), Ok(LabelSelector::Nothing));
        assert_eq!(
            label_selector(Some(&meta::LabelSelector::default())),
            Ok(LabelSelector::everything())
        );
    }

    #[test]
    fn a_bad_operator_or_missing_values_name_the_expression() {
        let bad_operator = meta::LabelSelector {
            match_expressions: Some(vec![expression("app", "Equals", Some(&["web"]))]),
            ..Default::default()
        };
        let error = label_selector(Some(&bad_operator)).err();
        assert_eq!(
            error.map(|e| e.field),
            Some("matchExpressions[0].operator".to_owned())
        );

        let no_values = meta::LabelSelector {
            match_expressions: Some(vec![
                expression("app", "Exists", None),
                expression("tier", "In", None),
            ]),
            ..Default::default()
        };
        let error = label_selector(Some(&no_values)).err();
        assert_eq!(
            error.map(|e| e.field),
            Some("matchExpressions[1].values".to_owned())
        );
    }

    #[test]
    fn node_field_selectors_accept_only_a_single_metadata_name() {
        let term = |key: &str, values: &[&str]| core::NodeSelector {
            node_selector_terms: vec![core::NodeSelectorTerm {
                match_fields: Some(vec![core::NodeSelectorRequirement {
                    key: key.to_owned(),
                    operator: "In".to_owned(),
                    values: Some(values.iter().map(|s| (*s).to_owned()).collect()),
                }]),
                ..Default::default()
            }],
        };
        assert!(node_selector(&term("metadata.name", &["n1"])).is_ok());
        let error = node_selector(&term("metadata.uid", &["n1"])).err();
        assert_eq!(
            error.map(|e| e.field),
            Some("nodeSelectorTerms[0].matchFields[0]".to_owned())
        );
        assert!(node_selector(&term("metadata.name", &["n1", "n2"])).is_err());
    }
}
