//! `bedrock-tuner experiments …`: experiments on the store, from draft to
//! completion, with the decision log, session assignment and analysis.
//!
//! Every change is a conditional write on the revision the command read,
//! so two operators acting at once cannot overwrite each other: the second
//! is told someone else changed it first. Every state change is validated
//! with all profiles and experiments in force (built-in, file and store)
//! before it is written, as a sidecar's refresh would validate it.

pub(crate) mod context;
mod lifecycle;
mod view;

use std::io::Write;
use std::path::PathBuf;

use super::CommandError;
use context::StoreSession;
use lifecycle::Transition;

/// The `experiments` command group.
#[derive(Debug, clap::Args)]
pub struct ExperimentsArgs {
    #[command(subcommand)]
    pub action: ExperimentsAction,
    /// Configuration file: its `[store]` section and its profiles.
    #[arg(long, global = true, env = "BEDROCK_TUNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who a change is recorded as [default: $USER].
    #[arg(long, global = true)]
    pub author: Option<String>,
    /// Why, for the decision log.
    #[arg(long, global = true)]
    pub reason: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExperimentsAction {
    /// One line per stored experiment.
    List,
    /// One experiment: its definition, revision and decision log.
    Show { id: String },
    /// Store a new experiment (TOML or JSON) as a draft, after validation.
    Create { file: PathBuf },
    /// draft → running.
    Start { id: String },
    /// running → paused: everyone gets the control meanwhile.
    Pause { id: String },
    /// paused → running.
    Resume { id: String },
    /// running or paused → completed, optionally naming the winner.
    Complete {
        id: String,
        /// The variant everyone gets from now on [default: the control].
        #[arg(long)]
        winner: Option<String>,
    },
    /// Which variant a session gets, and why.
    Assign { id: String, session: String },
    /// The statistics engine's report on the stored results.
    Analyze { id: String },
}

/// Runs `experiments …`, writing tables or JSON to `out`.
pub fn run(args: ExperimentsArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let session = StoreSession::open(args.config.as_ref())?;
    let change = lifecycle::Change {
        author: context::author(args.author.as_deref()),
        reason: args.reason.clone(),
        json: args.json,
    };
    let json = args.json;
    match args.action {
        ExperimentsAction::List => view::list(&session, json, out),
        ExperimentsAction::Show { id } => view::show(&session, &id, json, out),
        ExperimentsAction::Create { file } => lifecycle::create(&session, &file, &change, out),
        ExperimentsAction::Start { id } => {
            lifecycle::transition(&session, &id, Transition::Start, &change, out)
        }
        ExperimentsAction::Pause { id } => {
            lifecycle::transition(&session, &id, Transition::Pause, &change, out)
        }
        ExperimentsAction::Resume { id } => {
            lifecycle::transition(&session, &id, Transition::Resume, &change, out)
        }
        ExperimentsAction::Complete { id, winner } => {
            let transition = Transition::Complete { winner };
            lifecycle::transition(&session, &id, transition, &change, out)
        }
        ExperimentsAction::Assign { id, session: key } => {
            view::assign(&session, &id, &key, json, out)
        }
        ExperimentsAction::Analyze { id } => view::analyze(&session, &id, json, out),
    }
}
