//! Who calls: principals from the auth file, found by API key (kept as a
//! BLAKE3 hash, never in clear) or by a bearer token an issuer signed
//! (HS256 with a shared secret, RS256 with its public key) whose `sub`
//! names a principal. Without an auth file the server runs in development
//! mode: every call is the anonymous admin of tenant `default`, allowed on
//! loopback only and announced loudly at start.
use std::{collections::HashMap, path::Path, sync::Arc};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use quotecast_model::RuleSet;
use quotecast_rules::Source;
use serde::Deserialize;
use toml::Spanned;

use crate::ServerError;

/// What a principal may do (the permission matrix is in
/// [`crate::auth_layer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Prices, configures, saves and moves its quotes; cannot approve.
    Rep,
    /// Approves and rejects quotes up to its approval limit, never its own.
    Approver,
    /// Everything a rep and an approver may do, and the ERP's pushes.
    Admin,
    /// An ERP or batch job: reads quotes, orders, forecasts and plans,
    /// pushes pipelines and inventory.
    Service,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Rep, Role::Approver, Role::Admin, Role::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Approver => "approver",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub tenant: String,
    pub role: Role,
    /// The highest approval level (an id of the rules' approval levels)
    /// this principal may approve; `None` approves nothing.
    pub approval_limit: Option<String>,
}

impl Principal {
    /// The caller of development mode.
    pub fn anonymous(rules: &RuleSet) -> Self {
        Self {
            name: crate::stored_quotes::ANONYMOUS.to_owned(),
            tenant: crate::stored_quotes::TENANT.to_owned(),
            role: Role::Admin,
            approval_limit: rules
                .approval_levels()
                .iter()
                .max_by_key(|l| l.rank)
                .map(|l| l.id.clone()),
        }
    }

    pub fn actor(&self) -> quotecast_store::Actor {
        quotecast_store::Actor::new(&self.name, self.role.as_str())
    }
}

/// A token issuer the server trusts.
struct Issuer {
    name: String,
    algorithm: Algorithm,
    key: DecodingKey,
    audience: Option<String>,
}

/// Finds the principal of a call's credentials.
pub struct Authenticator {
    by_key_hash: HashMap<String, Arc<Principal>>,
    by_name: HashMap<String, Arc<Principal>>,
    issuers: Vec<Issuer>,
    /// Development mode's caller, when there is no auth file.
    anonymous: Option<Arc<Principal>>,
}

/// Why credentials were refused (UNAUTHENTICATED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// The BLAKE3 hash an auth file keeps of an API key.
pub fn key_hash(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(default)]
    principal: Vec<PrincipalEntry>,
    #[serde(default)]
    issuer: Vec<IssuerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalEntry {
    name: Spanned<String>,
    tenant: Spanned<String>,
    role: Spanned<String>,
    #[serde(default)]
    approval_limit: Option<Spanned<String>>,
    /// BLAKE3 hashes (hex) of the principal's API keys.
    #[serde(default)]
    api_key_blake3: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    /// The `iss` claim its tokens carry.
    name: Spanned<String>,
    algorithm: Spanned<String>,
    /// HS256: the environment variable holding the shared secret…
    #[serde(default)]
    secret_env: Option<Spanned<String>>,
    /// …or the file holding it, relative to the auth file.
    #[serde(default)]
    secret_file: Option<Spanned<String>>,
    /// RS256: the PEM file of its public key, relative to the auth file.
    #[serde(default)]
    public_key_file: Option<Spanned<String>>,
    /// The `aud` claim its tokens must carry, if any.
    #[serde(default)]
    audience: Option<String>,
}

/// The claims a token must carry.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Authenticator {
    /// Development mode: every call is [`Principal::anonymous`].
    pub fn development(rules: &RuleSet) -> Self {
        Self {
            by_key_hash: HashMap::new(),
            by_name: HashMap::new(),
            issuers: Vec::new(),
            anonymous: Some(Arc::new(Principal::anonymous(rules))),
        }
    }

    pub fn is_development(&self) -> bool {
        self.anonymous.is_some()
    }

    /// The principal named `name` (development mode's anonymous caller by
    /// its name).
    pub fn principal(&self, name: &str) -> Option<Arc<Principal>> {
        self.by_name
            .get(name)
            .cloned()
            .or_else(|| self.anonymous.as_ref().filter(|a| a.name == name).cloned())
    }

    /// Names of approver-group members of `rules` that are no principal of
    /// this file (they can never decide): for a warning at start.
    pub fn unknown_members<'r>(&self, rules: &'r RuleSet) -> Vec<&'r str> {
        if self.is_development() {
            return Vec::new();
        }
        let mut unknown: Vec<&str> = rules
            .approver_groups()
            .iter()
            .flat_map(|g| g.members.iter().map(String::as_str))
            .filter(|m| !self.by_name.contains_key(*m))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        unknown
    }

    /// Reads the auth file at `path`; every problem names the file and
    /// line. Approval limits must be approval levels of `rules`.
    pub fn load(path: &Path, rules: &RuleSet) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Startup(format!("{}: {e}", path.display())))?;
        let source = Source {
            path: path.to_owned(),
            text,
        };
        let at = |offset: usize, message: String| {
            ServerError::Startup(format!(
                "{}:{}: {message}",
                path.display(),
                source.line_of(offset)
            ))
        };
        let file: AuthFile = toml::from_str(&source.text)
            .map_err(|e| at(e.span().map_or(0, |s| s.start), e.message().to_owned()))?;
        let mut auth = Self {
            by_key_hash: HashMap::new(),
            by_name: HashMap::new(),
            issuers: Vec::new(),
            anonymous: None,
        };
        for entry in file.principal {
            let role = Role::parse(entry.role.get_ref()).ok_or_else(|| {
                at(
                    entry.role.span().start,
                    format!(
                        "role `{}` is not one of rep, approver, admin, service",
                        entry.role.get_ref()
                    ),
                )
            })?;
            for (field, value) in [("name", &entry.name), ("tenant", &entry.tenant)] {
                if value.get_ref().trim().is_empty() {
                    return Err(at(value.span().start, format!("{field} is empty")));
                }
            }
            // A tenant names a directory of its own under the data
            // directory: letters, digits, `-` and `_` only.
            if quotecast_pipeline::store::tenant_dir(Path::new(""), entry.tenant.get_ref()).is_err()
            {
                return Err(at(
                    entry.tenant.span().start,
                    format!(
                        "tenant `{}` is not a tenant name (1 to 64 letters, digits, `-` or `_`)",
                        entry.tenant.get_ref()
                    ),
                ));
            }
            if let Some(limit) = &entry.approval_limit
                && rules.approval_level(limit.get_ref()).is_none()
            {
                return Err(at(
                    limit.span().start,
                    format!(
                        "approval_limit `{}` is not an approval level of the rules ({})",
                        limit.get_ref(),
                        rules
                            .approval_levels()
                            .iter()
                            .map(|l| l.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let principal = Arc::new(Principal {
                name: entry.name.get_ref().clone(),
                tenant: entry.tenant.get_ref().clone(),
                role,
                approval_limit: entry.approval_limit.map(Spanned::into_inner),
            });
            if auth
                .by_name
                .insert(principal.name.clone(), principal.clone())
                .is_some()
            {
                return Err(at(
                    entry.name.span().start,
                    format!("principal `{}` is named twice", principal.name),
                ));
            }
            for hash in entry.api_key_blake3 {
                let hex = hash.get_ref().to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(at(
                        hash.span().start,
                        "api_key_blake3 must be 64 hex digits: `quotecast auth new-key` prints one"
                            .to_owned(),
                    ));
                }
                if auth.by_key_hash.insert(hex, principal.clone()).is_some() {
                    return Err(at(
                        hash.span().start,
                        "this API key hash is given twice".to_owned(),
                    ));
                }
            }
        }
        for entry in file.issuer {
            let dir = path.parent().unwrap_or(Path::new("."));
            auth.issuers.push(issuer(entry, dir, &at)?);
        }
        Ok(auth)
    }

    /// The principal of a call: its `authorization: Bearer …` (a token or
    /// an API key) or `x-api-key` header; development mode's caller when
    /// there are none and the server has no auth file.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Arc<Principal>, Refused> {
        if let Some(anonymous) = &self.anonymous {
            return Ok(anonymous.clone());
        }
        let credential = match (authorization, api_key) {
            (Some(header), _) => header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    Refused("authorization must be `Bearer <token or API key>`".into())
                })?,
            (None, Some(key)) => key.trim(),
            (None, None) => {
                return Err(Refused(
                    "no credentials: send `authorization: Bearer <token or API key>`".into(),
                ));
            }
        };
        if credential.matches('.').count() == 2 {
            return self.token(credential);
        }
        self.by_key_hash
            .get(&key_hash(credential))
            .cloned()
            .ok_or_else(|| Refused("unknown API key".into()))
    }

    fn token(&self, token: &str) -> Result<Arc<Principal>, Refused> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Refused(format!("the bearer token is malformed: {e}")))?;
        let mut last = Refused(format!(
            "no issuer the server trusts signs {:?} tokens",
            header.alg
        ));
        for issuer in self.issuers.iter().filter(|i| i.algorithm == header.alg) {
            let mut validation = Validation::new(issuer.algorithm);
            validation.set_issuer(&[issuer.name.as_str()]);
            validation.set_required_spec_claims(&["exp", "iss", "sub"]);
            match &issuer.audience {
                Some(aud) => validation.set_audience(&[aud.as_str()]),
                None => validation.validate_aud = false,
            }
            match jsonwebtoken::decode::<Claims>(token, &issuer.key, &validation) {
                Ok(data) => {
                    return self.by_name.get(&data.claims.sub).cloned().ok_or_else(|| {
                        Refused(format!(
                            "the token's subject `{}` is not a principal of the auth file",
                            data.claims.sub
                        ))
                    });
                }
                Err(e) => last = Refused(format!("the bearer token is refused: {e}")),
            }
        }
        Err(last)
    }
}

fn issuer(
    entry: IssuerEntry,
    dir: &Path,
    at: &impl Fn(usize, String) -> ServerError,
) -> Result<Issuer, ServerError> {
    let span = entry.algorithm.span().start;
    let (algorithm, key) = match entry.algorithm.get_ref().as_str() {
        "HS256" => {
            let (secret, from, at_span) = match (entry.secret_env, entry.secret_file) {
                (Some(var), None) => (
                    std::env::var(var.get_ref()).map_err(|_| {
                        at(
                            var.span().start,
                            format!("environment variable {} is not set", var.get_ref()),
                        )
                    })?,
                    var.get_ref().clone(),
                    var.span().start,
                ),
                (None, Some(file)) => {
                    let secret_path = dir.join(file.get_ref());
                    let text = std::fs::read_to_string(&secret_path).map_err(|e| {
                        at(file.span().start, format!("{}: {e}", secret_path.display()))
                    })?;
                    (
                        text.trim_end().to_owned(),
                        secret_path.display().to_string(),
                        file.span().start,
                    )
                }
                _ => {
                    return Err(at(
                        span,
                        "an HS256 issuer needs one of secret_env or secret_file".into(),
                    ));
                }
            };
            if secret.len() < 32 {
                return Err(at(
                    at_span,
                    format!("the secret in {from} is shorter than 32 bytes"),
                ));
            }
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
            )
        }
        "RS256" => {
            let file = entry.public_key_file.ok_or_else(|| {
                at(
                    span,
                    "an RS256 issuer needs public_key_file: its public key (PEM)".into(),
                )
            })?;
            let key_path = dir.join(file.get_ref());
            let pem = std::fs::read(&key_path)
                .map_err(|e| at(file.span().start, format!("{}: {e}", key_path.display())))?;
            let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| {
                at(
                    file.span().start,
                    format!(
                        "{} is not an RSA public key in PEM: {e}",
                        key_path.display()
                    ),
                )
            })?;
            (Algorithm::RS256, key)
        }
        other => {
            return Err(at(
                span,
                format!("algorithm `{other}` is not HS256 or RS256"),
            ));
        }
    };
    Ok(Issuer {
        name: entry.name.into_inner(),
        algorithm,
        key,
        audience: entry.audience,
    })
}
