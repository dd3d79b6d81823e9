//! Tables for people: per group and constraint each domain's pods drawn as a bar, the skew,
//! the moves, and one line saying why nothing moves when nothing does; for `explain`, each
//! feasible node's scheduler scores and the node the pod would land on.

use std::io::{self, Write};

use super::WindowState;
use crate::planner::{
    Explanation,
    report::{ConstraintReport, GroupPlan, Outcome, Plan},
    restart::Method,
    score::Plugin,
};

const BAR_WIDTH: u32 = 30;
/// Domains listed per constraint before the rest are summarised.
const DOMAINS_SHOWN: usize = 40;

fn bar(pods: u32, widest: u32) -> String {
    if widest == 0 || pods == 0 {
        return String::new();
    }
    let cells = (u64::from(pods) * u64::from(BAR_WIDTH)).div_ceil(u64::from(widest));
    "█".repeat(usize::try_from(cells).unwrap_or(0))
}

/// Writes a plan as a table.
pub fn plan_table(plan: &Plan, windows: &[WindowState], out: &mut dyn Write) -> io::Result<()> {
    if plan.groups.is_empty() {
        writeln!(
            out,
            "No groups: no SpreadPolicy (or, with --pod-constraints, no pod constraint) matched."
        )?;
    }
    for group in &plan.groups {
        group_table(group, out)?;
        writeln!(out)?;
    }
    for state in windows {
        let name = if state.namespace.is_empty() {
            state.policy.clone()
        } else {
            format!("{}/{}", state.namespace, state.policy)
        };
        let effect = if state.open { "" } else { " (its moves wait)" };
        writeln!(out, "{} {name}: {}{effect}.", state.kind, state.message)?;
    }
    if !windows.is_empty() {
        writeln!(out)?;
    }
    let summary = &plan.summary;
    writeln!(
        out,
        "{} move(s) in all, {} allowed by their budgets now.",
        summary.moves, summary.moves_allowed_now
    )?;
    let name_width = summary
        .nodes
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(4);
    let widest = summary
        .nodes
        .iter()
        .map(|n| n.pods.max(n.pods_after))
        .max()
        .unwrap_or(0);
    writeln!(out, "Pods per node (now → after):")?;
    for node in &summary.nodes {
        let state = if node.schedulable {
            ""
        } else {
            "  (not schedulable)"
        };
        writeln!(
            out,
            "  {:<name_width$}  {:<bar$}  {:>3} → {:<3}{state}",
            node.name,
            bar(node.pods, widest),
            node.pods,
            node.pods_after,
            bar = usize::try_from(BAR_WIDTH).unwrap_or(30),
        )?;
    }
    Ok(())
}

fn group_table(group: &GroupPlan, out: &mut dyn Write) -> io::Result<()> {
    match (group.policy.as_deref(), group.namespace.is_empty()) {
        (Some(policy), true) => writeln!(
            out,
            "all namespaces · ClusterSpreadPolicy {policy} · {}",
            group.group
        )?,
        (Some(policy), false) => writeln!(
            out,
            "{} · SpreadPolicy {policy} · {}",
            group.namespace, group.group
        )?,
        (None, _) => writeln!(
            out,
            "{} · pod constraints · {}",
            group.namespace, group.group
        )?,
    }
    for constraint in &group.constraints {
        constraint_table(constraint, !group.moves.is_empty(), out)?;
    }
    if !group.moves.is_empty() {
        writeln!(
            out,
            "  moves ({}, fewest possible {}):",
            group.moves.len(),
            group.lower_bound_moves
        )?;
        for (number, m) in group.moves.iter().enumerate() {
            let budget = match (m.pdb_allows, m.budget.pdb(), m.budget.refusal()) {
                _ if m.method == Method::Restart => "rollout restart, no PDB needed".to_owned(),
                (true, Some(pdb), _) => format!("PDB {pdb} allows"),
                (true, None, _) => "no PDB".to_owned(),
                (false, _, Some(refusal)) => format!("blocked now: {refusal}"),
                (false, _, None) => "blocked now".to_owned(),
            };
            writeln!(
                out,
                "    {:>2}. {}  {} → {}  ({budget})",
                number + 1,
                m.pod,
                m.from_node,
                m.to_node
            )?;
        }
    }
    if !group.left_alone.is_empty() {
        let listed: Vec<String> = group
            .left_alone
            .iter()
            .map(|w| format!("{} ({})", w.workload, w.reason))
            .collect();
        writeln!(out, "  left alone: {}", listed.join(", "))?;
    }
    if !group.skipped.is_empty() {
        let listed: Vec<String> = group
            .skipped
            .iter()
            .map(|s| format!("{} {}", s.pod, s.reason))
            .collect();
        writeln!(out, "  not moved: {}", listed.join(", "))?;
    }
    let marker = match group.outcome {
        Outcome::Rebalanced | Outcome::Partial => "→",
        _ => "=",
    };
    writeln!(out, "  {marker} {}", group.message)
}

fn constraint_table(
    constraint: &ConstraintReport,
    moving: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let after = if moving {
        format!(" → {}", constraint.actionable_skew_after)
    } else {
        String::new()
    };
    writeln!(
        out,
        "  {}  maxSkew {}  {:?}  skew {}  actionable skew {}{after}  (pods: {})",
        constraint.topology_key,
        constraint.max_skew,
        constraint.when_unsatisfiable,
        constraint.skew,
        constraint.actionable_skew,
        constraint.selector,
    )?;
    let domains: Vec<_> = constraint.domains.iter().collect();
    let widest = domains
        .iter()
        .map(|d| d.pods.max(d.pods_after))
        .max()
        .unwrap_or(0);
    let name_width = domains.iter().map(|d| d.name.len()).max().unwrap_or(4);
    let mut shown: Vec<_> = domains.iter().collect();
    if shown.len() > DOMAINS_SHOWN {
        shown.sort_by(|a, b| b.pods.cmp(&a.pods).then_with(|| a.name.cmp(&b.name)));
        shown.truncate(DOMAINS_SHOWN);
    }
    for domain in &shown {
        let change = if domain.pods_after == domain.pods {
            String::new()
        } else {
            format!(" → {}", domain.pods_after)
        };
        let state = if domain.accepting {
            ""
        } else {
            "  (cannot take pods now)"
        };
        writeln!(
            out,
            "    {:<name_width$}  {:<bar$}  {}{change}{state}",
            domain.name,
            bar(domain.pods, widest),
            domain.pods,
            bar = usize::try_from(BAR_WIDTH).unwrap_or(30),
        )?;
    }
    if domains.len() > shown.len() {
        writeln!(out, "    … {} more domain(s)", domains.len() - shown.len())?;
    }
    Ok(())
}

/// Writes an explanation as a table.
pub fn explain_table(explanation: &Explanation, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{} — constraints from {}",
        explanation.pod, explanation.source
    )?;
    for constraint in &explanation.constraints {
        writeln!(
            out,
            "  {}  maxSkew {}  {:?}  global minimum {}  skew {}  (pods: {})",
            constraint.topology_key,
            constraint.max_skew,
            constraint.when_unsatisfiable,
            constraint
                .global_min
                .map_or_else(|| "none".to_owned(), |min| min.to_string()),
            constraint.skew,
            constraint.selector
        )?;
        let widest = constraint.domains.iter().map(|d| d.pods).max().unwrap_or(0);
        let name_width = constraint
            .domains
            .iter()
            .map(|d| d.name.len())
            .max()
            .unwrap_or(4);
        for domain in constraint.domains.iter().take(DOMAINS_SHOWN) {
            writeln!(
                out,
                "    {:<name_width$}  {:<bar$}  {}",
                domain.name,
                bar(domain.pods, widest),
                domain.pods,
                bar = usize::try_from(BAR_WIDTH).unwrap_or(30),
            )?;
        }
        if constraint.domains.len() > DOMAINS_SHOWN {
            writeln!(
                out,
                "    … {} more domain(s)",
                constraint.domains.len() - DOMAINS_SHOWN
            )?;
        }
    }
    let feasible: Vec<&str> = explanation
        .nodes
        .iter()
        .filter(|n| n.feasible)
        .map(|n| n.name.as_str())
        .collect();
    if feasible.is_empty() {
        writeln!(out, "No node would take the pod now:")?;
    } else {
        writeln!(out, "Feasible: {}", feasible.join(", "))?;
    }
    for node in explanation.nodes.iter().filter(|n| !n.feasible) {
        writeln!(out, "  {}: {}", node.name, node.reasons.join("; "))?;
    }
    scores_table(explanation, out)
}

/// A short column heading per default score plugin, in the profile's order.
fn heading(plugin: Plugin) -> &'static str {
    match plugin {
        Plugin::TaintToleration => "Taint×3",
        Plugin::NodeAffinity => "NodeAff×2",
        Plugin::PodTopologySpread => "Spread×2",
        Plugin::InterPodAffinity => "PodAff×2",
        Plugin::NodeResourcesFit => "Fit×1",
        Plugin::NodeResourcesBalancedAllocation => "Balance×1",
        Plugin::ImageLocality => "Image×1",
    }
}

/// The feasible nodes' scores, highest total first (a plugin that skipped the pod shows
/// `-`), then the node the pod would land on.
fn scores_table(explanation: &Explanation, out: &mut dyn Write) -> io::Result<()> {
    let mut scored: Vec<_> = explanation
        .nodes
        .iter()
        .filter_map(|node| node.scores.map(|scores| (node.name.as_str(), scores)))
        .collect();
    if scored.is_empty() {
        return Ok(());
    }
    scored.sort_by_key(|(name, scores)| (std::cmp::Reverse(scores.total()), *name));
    let name_width = scored.iter().map(|(name, _)| name.len()).max().unwrap_or(4);
    writeln!(
        out,
        "Scheduler scores (normalized 0-100, × weight in the total):"
    )?;
    let mut line = format!("  {:<name_width$}  {:>5}", "NODE", "TOTAL");
    for plugin in Plugin::ALL {
        line.push_str(&format!("  {:>9}", heading(plugin)));
    }
    writeln!(out, "{}", line.trim_end())?;
    for (name, scores) in &scored {
        let mut line = format!("  {name:<name_width$}  {:>5}", scores.total());
        for plugin in Plugin::ALL {
            let cell = scores
                .get(plugin)
                .map_or_else(|| "-".to_owned(), |score| score.to_string());
            line.push_str(&format!("  {cell:>9}"));
        }
        writeln!(out, "{line}")?;
    }
    match (
        &explanation.predicted_node,
        explanation.tied_nodes.as_slice(),
    ) {
        (Some(node), _) => writeln!(out, "Predicted node: {node}"),
        (None, []) => Ok(()),
        (None, tied) => writeln!(
            out,
            "Predicted node: one of {} (tied; the scheduler picks at random)",
            tied.join(", ")
        ),
    }
}
