//! The report as text, one decision per line, for `rewrite --dry-run`.

use std::fmt;

use super::report::{FewShotReport, Origin, ParamDrop, RewriteReport, SystemReport};

impl fmt::Display for RewriteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = self
            .family
            .map_or("unknown (Converse base fields only)", |fam| fam.as_str());
        let body = if self.body_changed {
            "changed"
        } else {
            "unchanged"
        };
        writeln!(f, "family {family}, api {}, body {body}", self.api)?;
        for s in &self.set {
            write!(f, "  set      {} = {} at {}", s.param, s.value, s.location)?;
            end_line(
                f,
                s.replaced
                    .as_ref()
                    .map(|app| format!(" (application had {app})")),
            )?;
        }
        for c in &self.clamped {
            writeln!(
                f,
                "  clamped  {} {} -> {} ({})",
                c.param,
                c.from,
                c.to,
                c.reason.as_str()
            )?;
        }
        for d in &self.dropped {
            write_drop(f, d)?;
        }
        if let Some(SystemReport { action, location }) = &self.system_prompt {
            writeln!(f, "  system   {} at {location}", action.as_str())?;
        }
        if let Some(shots) = &self.few_shots {
            write_few_shots(f, shots)?;
        }
        Ok(())
    }
}

fn end_line(f: &mut fmt::Formatter<'_>, tail: Option<String>) -> fmt::Result {
    writeln!(f, "{}", tail.unwrap_or_default())
}

fn write_drop(f: &mut fmt::Formatter<'_>, d: &ParamDrop) -> fmt::Result {
    let whose = match d.origin {
        Origin::Profile => "profile",
        Origin::App => "application",
    };
    write!(
        f,
        "  dropped  {} = {} from {whose} ({})",
        d.param,
        d.value,
        d.reason.as_str()
    )?;
    end_line(f, d.detail.as_ref().map(|detail| format!(": {detail}")))
}

fn write_few_shots(f: &mut fmt::Formatter<'_>, shots: &FewShotReport) -> fmt::Result {
    let FewShotReport {
        injected,
        location,
        skipped,
    } = shots;
    match skipped {
        Some(reason) => writeln!(
            f,
            "  few-shot none injected at {location} ({})",
            reason.as_str()
        ),
        None => writeln!(f, "  few-shot {injected} injected at {location}"),
    }
}
