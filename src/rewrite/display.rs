//! The report as text, one decision per line, for `rewrite --dry-run`.

use std::fmt;

use super::report::{FewShotReport, Origin, RewriteReport, SystemReport};

impl fmt::Display for RewriteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = self
            .family
            .map_or("unknown (Converse base fields only)", |fam| fam.as_str());
        writeln!(
            f,
            "family {family}, api {}, body {}",
            self.api,
            if self.body_changed {
                "changed"
            } else {
                "unchanged"
            }
        )?;
        for s in &self.set {
            write!(f, "  set      {} = {} at {}", s.param, s.value, s.location)?;
            match &s.replaced {
                Some(app) => writeln!(f, " (application had {app})")?,
                None => writeln!(f)?,
            }
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
            match &d.detail {
                Some(detail) => writeln!(f, ": {detail}")?,
                None => writeln!(f)?,
            }
        }
        if let Some(SystemReport { action, location }) = &self.system_prompt {
            writeln!(f, "  system   {} at {location}", action.as_str())?;
        }
        if let Some(FewShotReport {
            injected,
            location,
            skipped,
        }) = &self.few_shots
        {
            match skipped {
                Some(reason) => writeln!(
                    f,
                    "  few-shot none injected at {location} ({})",
                    reason.as_str()
                )?,
                None => writeln!(f, "  few-shot {injected} injected at {location}")?,
            }
        }
        Ok(())
    }
}
