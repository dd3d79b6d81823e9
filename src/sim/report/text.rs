//! The report as a story for people: the scenario, pods per node before the first event, at the
//! worst moment and at the end (with bars), what happened when, and the client moves.

use std::io::{self, Write};

use super::Report;

const BAR_WIDTH: u32 = 40;

fn bar(pods: u32, widest: u32) -> String {
    if widest == 0 || pods == 0 {
        return String::new();
    }
    let cells = (u64::from(pods) * u64::from(BAR_WIDTH)).div_ceil(u64::from(widest));
    "█".repeat(usize::try_from(cells).unwrap_or(0))
}

/// `1h10m`, `45s`, `0s`.
pub fn clock(seconds: u64) -> String {
    crate::api::Duration::from_secs(seconds).to_string()
}

fn table(out: &mut dyn Write, title: &str, rows: &[(String, u32)], widest: u32) -> io::Result<()> {
    writeln!(out, "{title}")?;
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(4);
    for (name, pods) in rows {
        writeln!(out, "  {name:<width$} {pods:>4} {}", bar(*pods, widest))?;
    }
    writeln!(out)
}

/// Writes the story.
pub fn story(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "Scenario {} (seed {}), {} of cluster time",
        report.scenario,
        report.seed,
        clock(report.cluster_seconds)
    )?;
    if !report.description.is_empty() {
        writeln!(out, "{}", report.description.trim())?;
    }
    writeln!(
        out,
        "{}",
        if report.controller {
            "kube-spread's controller ran alongside (--no-controller leaves it out)."
        } else {
            "No kube-spread controller ran (--no-controller)."
        }
    )?;
    writeln!(out)?;
    let widest = report
        .timeline
        .iter()
        .flat_map(|s| s.pods.values().copied())
        .max()
        .unwrap_or(0);
    let first_event = report.events.iter().find(|m| m.scenario).map(|m| m.t);
    let before: Vec<(String, u32)> = report
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.pods_before))
        .collect();
    match first_event {
        Some(t) => table(
            out,
            &format!(
                "Before (just before the first event, at {}): pods per node",
                clock(t)
            ),
            &before,
            widest,
        )?,
        None => table(out, "At the start: pods per node", &before, widest)?,
    }
    // The worst moment: the largest spread between the fullest and the emptiest node.
    if let Some(worst) = report.timeline.iter().max_by_key(|s| {
        let max = s.pods.values().max().copied().unwrap_or(0);
        let min = s.pods.values().min().copied().unwrap_or(0);
        (max - min, std::cmp::Reverse(s.t))
    }) {
        let rows: Vec<(String, u32)> = worst.pods.iter().map(|(n, p)| (n.clone(), *p)).collect();
        table(
            out,
            &format!(
                "During (the widest spread, at {}): pods per node",
                clock(worst.t)
            ),
            &rows,
            widest,
        )?;
    }
    writeln!(out, "What happened:")?;
    for mark in &report.events {
        let who = if mark.scenario { "event  " } else { "cluster" };
        writeln!(out, "  {:>7}  {who}  {}", clock(mark.t), mark.description)?;
    }
    writeln!(out)?;
    let after: Vec<(String, u32)> = report
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.pods_at_end))
        .collect();
    table(
        out,
        &format!(
            "After (at {}): pods per node",
            clock(report.cluster_seconds)
        ),
        &after,
        widest,
    )?;
    let max = after.iter().map(|(_, p)| *p).max().unwrap_or(0);
    let min = after.iter().map(|(_, p)| *p).min().unwrap_or(0);
    writeln!(
        out,
        "Spread at the end: {max} - {min} = {} pods between the fullest and the emptiest node.",
        max - min
    )?;
    writeln!(
        out,
        "Moves by clients: {} (PDB violations: {}, pinned or DaemonSet pods moved: {}).",
        report.moves, report.pdb_violations, report.pinned_moved
    )?;
    let replacements = report.replacements;
    if replacements.as_planned + replacements.among_equals + replacements.elsewhere > 0 {
        writeln!(
            out,
            "Replacements: {} landed on the node the plan predicted, {} on a node scored as high (the scheduler picks among equals at random), {} elsewhere.",
            replacements.as_planned, replacements.among_equals, replacements.elsewhere
        )?;
    }
    for moved in &report.move_log {
        writeln!(
            out,
            "  {:>8}  {} {} from {}{}",
            clock(moved.t),
            moved.how,
            moved.pod,
            moved.from.as_deref().unwrap_or("(unbound)"),
            if moved.violated.is_empty() {
                String::new()
            } else {
                format!(" — below budget {}", moved.violated.join(", "))
            }
        )?;
    }
    policy_groups(report, out)
}

/// Per SpreadPolicy group: where rebalancing started, the fewest moves it needed, what it did.
fn policy_groups(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for group in &report.policy_groups {
        writeln!(out)?;
        let policy = group.policy.as_deref().unwrap_or("-");
        if group.namespace.is_empty() {
            writeln!(out, "ClusterSpreadPolicy {policy}, group {}:", group.group)?;
        } else {
            writeln!(
                out,
                "SpreadPolicy {}/{policy}, group {}:",
                group.namespace, group.group
            )?;
        }
        match (group.rebalance_started, group.lower_bound_moves) {
            (Some(t), Some(lower_bound)) => writeln!(
                out,
                "  rebalancing started at {}: {} move(s) made, {lower_bound} needed at the \
                 least; at most {} in flight at once",
                clock(t),
                group.moves,
                group.max_in_flight
            )?,
            _ => writeln!(out, "  no pod moved")?,
        }
        for constraint in &group.constraints {
            let line = |counts: Option<&super::groups::DomainCounts>| {
                counts.map_or_else(
                    || "-".to_owned(),
                    |c| {
                        let domains: Vec<String> =
                            c.domains.values().map(ToString::to_string).collect();
                        format!("{} (skew {})", domains.join("/"), c.actionable_skew)
                    },
                )
            };
            writeln!(
                out,
                "  {} (maxSkew {}): {} at the start, {} at the end",
                constraint.topology_key,
                constraint.max_skew,
                line(constraint.at_start.as_ref()),
                line(constraint.at_end.as_ref())
            )?;
        }
    }
    Ok(())
}

/// Writes the final placement: one line per pod, by node.
pub fn final_table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut rows = report.final_pods.clone();
    rows.sort_by(|a, b| (&a.node, &a.namespace, &a.name).cmp(&(&b.node, &b.namespace, &b.name)));
    let width = rows
        .iter()
        .map(|r| r.namespace.len() + r.name.len() + 1)
        .max()
        .unwrap_or(3);
    writeln!(out, "{:<12} {:<width$} {:<9} READY", "NODE", "POD", "PHASE")?;
    for row in rows {
        let phase = if row.terminating {
            "Terminating".to_owned()
        } else {
            row.phase.clone()
        };
        writeln!(
            out,
            "{:<12} {:<width$} {:<9} {}",
            row.node.as_deref().unwrap_or("<none>"),
            format!("{}/{}", row.namespace, row.name),
            phase,
            if row.ready { "yes" } else { "no" }
        )?;
    }
    Ok(())
}
