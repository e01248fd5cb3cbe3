//! Rules reloaded while the server runs (SIGHUP, or
//! `ServerService.ReloadRules`): the new set is loaded and checked in full
//! (every configuration model compiled) on a blocking thread, off the
//! request path, and swapped in whole only when it is valid. A request
//! takes the rules in service when it starts ([`AppState::current`]) and
//! finishes on them, whatever is swapped meanwhile; a configuration
//! session keeps its rules for its life. An invalid set is refused with
//! the loader's file:line errors and the old rules stay in service.
//!
//! The callers (the auth file's principals and token issuers) are swapped
//! the same way on SIGHUP ([`LiveAuth`]): keys added or revoked take
//! effect without a restart, and a file with a mistake is refused with
//! its file:line while the callers in service stay.
use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Utc};
use quotecast_configurator::Configurators;
use quotecast_model::RuleSet;

use crate::{AppState, ServerError, auth::Authenticator};

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

/// A value in service, swapped whole: readers take the `Arc` in service
/// when they start and keep it.
struct Swapped<T>(RwLock<Arc<T>>);

impl<T> Swapped<T> {
    fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    fn current(&self) -> Arc<T> {
        match self.0.read() {
            Ok(value) => value.clone(),
            // A writer that panicked cannot have left a half-swapped Arc.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, value: T) {
        let value = Arc::new(value);
        match self.0.write() {
            Ok(mut slot) => *slot = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

/// The rules in service, swapped whole.
pub struct LiveRules(Swapped<Rules>);

impl LiveRules {
    pub fn new(rules: Rules) -> Self {
        Self(Swapped::new(rules))
    }

    /// The rules in service now.
    pub fn current(&self) -> Arc<Rules> {
        self.0.current()
    }

    fn replace(&self, rules: Rules) {
        self.0.replace(rules)
    }
}

/// The callers in service, and the auth file they were read from (none in
/// development mode, whose anonymous caller never changes).
pub struct LiveAuth {
    callers: Swapped<Authenticator>,
    file: Option<PathBuf>,
}

impl LiveAuth {
    /// Development mode: every call is the anonymous admin.
    pub fn development(rules: &RuleSet) -> Self {
        Self {
            callers: Swapped::new(Authenticator::development(rules)),
            file: None,
        }
    }

    /// The callers of the auth file at `path` (errors name its line).
    pub fn from_file(path: &Path, rules: &RuleSet) -> Result<Self, ServerError> {
        Ok(Self {
            callers: Swapped::new(Authenticator::load(path, rules)?),
            file: Some(path.to_owned()),
        })
    }

    /// The callers in service now.
    pub fn current(&self) -> Arc<Authenticator> {
        self.callers.current()
    }

    /// Whether the server runs without an auth file.
    pub fn is_development(&self) -> bool {
        self.file.is_none()
    }

    /// The principal named `name` among the callers in service.
    pub fn principal(&self, name: &str) -> Option<Arc<crate::auth::Principal>> {
        self.current().principal(name)
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads the auth file again, checked against `rules`, and swaps its
    /// callers in when it is valid: true when it did, false in
    /// development mode (nothing to read); the file's errors otherwise,
    /// the callers in service staying.
    pub fn reload(&self, rules: &RuleSet) -> Result<bool, ServerError> {
        let Some(path) = &self.file else {
            return Ok(false);
        };
        self.callers.replace(Authenticator::load(path, rules)?);
        Ok(true)
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

/// Reads the auth file again against the rules in service (off the
/// request path) and logs what happened; see [`LiveAuth::reload`].
pub async fn reload_callers(state: &AppState) -> Result<bool, ServerError> {
    let (auth, live) = (state.auth.clone(), state.live.clone());
    let reloaded = tokio::task::spawn_blocking(move || auth.reload(&live.current().rules))
        .await
        .map_err(|e| ServerError::Internal(format!("the reload failed: {e}")))?;
    match &reloaded {
        Ok(true) => tracing::info!("callers reloaded from the auth file"),
        Ok(false) => {}
        Err(error) => {
            tracing::error!(%error, "auth file refused; the callers in service stay")
        }
    }
    reloaded
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
