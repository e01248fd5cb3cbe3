//! Rules reloaded while the server runs (SIGHUP, or
//! `ServerService.ReloadRules`): the new set is loaded and checked in full
//! (every configuration model compiled) on a blocking thread, off the
//! request path, and swapped in whole only when it is valid. A request
//! takes the rules in service when it starts ([`AppState::current`]) and
//! finishes on them, whatever is swapped meanwhile; a configuration
//! session keeps its rules for its life. An invalid set is refused with
//! the loader's file:line errors and the old rules stay in service.
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use quotecast_configurator::Configurators;
use quotecast_model::RuleSet;

use crate::{AppState, ServerError};

/// One loaded rule set, with its compiled configuration models.
pub struct Rules {
    pub rules: Arc<RuleSet>,
    pub configurators: Arc<Configurators>,
    pub loaded_at: DateTime<Utc>,
}

/// What a reload loads: the rules, their compiled models, and a summary
/// of what was loaded for the log; or the problems found, one per line
/// (`file:line: what is wrong`).
pub type Reloader = Arc<dyn Fn() -> Result<(RuleSet, Configurators, String), String> + Send + Sync>;

/// The rules in service, swapped whole.
pub struct LiveRules(RwLock<Arc<Rules>>);

impl LiveRules {
    pub fn new(rules: Rules) -> Self {
        Self(RwLock::new(Arc::new(rules)))
    }

    /// The rules in service now.
    pub fn current(&self) -> Arc<Rules> {
        match self.0.read() {
            Ok(rules) => rules.clone(),
            // A writer that panicked cannot have left a half-swapped Arc.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, rules: Rules) {
        let rules = Arc::new(rules);
        match self.0.write() {
            Ok(mut slot) => *slot = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }
}

impl AppState {
    /// This state with the rules in service now: what a request works
    /// with from its start to its end.
    pub fn current(&self) -> AppState {
        let live = self.live.current();
        if Arc::ptr_eq(&live.rules, &self.rules) {
            return self.clone();
        }
        AppState {
            rules: live.rules.clone(),
            configurators: live.configurators.clone(),
            rules_loaded_at: live.loaded_at,
            ..self.clone()
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub previous_version: String,
    pub version: String,
    pub loaded_at: DateTime<Utc>,
    pub summary: String,
}

/// Loads the rules again and swaps them in when valid (see the module).
pub async fn reload_rules(state: &AppState) -> Result<Reloaded, ServerError> {
    let Some(reloader) = state.reloader.clone() else {
        return Err(ServerError::FailedPrecondition(
            "this server cannot reload its rules (it was not started from a rules source)".into(),
        ));
    };
    let previous_version = state.live.current().rules.fingerprint().to_owned();
    let loaded = tokio::task::spawn_blocking(move || reloader())
        .await
        .map_err(|e| ServerError::Internal(format!("the reload failed: {e}")))?;
    let (rules, configurators, summary) = match loaded {
        Ok(loaded) => loaded,
        Err(problems) => {
            tracing::error!(%problems, version = %previous_version, "rules refused; the rules in service stay");
            return Err(ServerError::RulesRefused(problems));
        }
    };
    let loaded_at = Utc::now();
    let version = rules.fingerprint().to_owned();
    state.live.replace(Rules {
        rules: Arc::new(rules),
        configurators: Arc::new(configurators),
        loaded_at,
    });
    tracing::info!(%previous_version, %version, %summary, "rules reloaded");
    Ok(Reloaded {
        previous_version,
        version,
        loaded_at,
        summary,
    })
}
