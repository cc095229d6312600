//! The settings of a run, from the flags, the environment and a profile of
//! the config file (`config.toml` under the platform's config directory,
//! or `UQPAY_CONFIG_DIR`), which is written 0600 and read with a warning
//! when its mode is wider.
//!
//! Precedence: a flag, then its environment variable, then the profile.
//! Credentials: `UQPAY_CLIENT_ID` with `UQPAY_API_KEY` or
//! `UQPAY_API_KEY_FILE`, or `UQPAY_API_TOKEN`; else the profile's. The
//! token store's password: `UQPAY_TOKEN_STORE_PASSWORD` or
//! `UQPAY_TOKEN_STORE_PASSWORD_FILE`, never in a `--token-store` URL nor a
//! profile's (refused there), put into the URLs in memory only.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::global::{Env, Global};
use crate::exit::Failure;
use crate::output;
use crate::redis_url::{self, StoreUrl};

/// The config file's name inside the config directory.
pub const FILE_NAME: &str = "config.toml";

/// A secret: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, to hand to the SDK.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Where requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// UQPay's sandbox.
    Sandbox,
    /// UQPay's production.
    Production,
    /// The simulator, in this process.
    Mock,
    /// Another base URL.
    BaseUrl(String),
}

impl Target {
    /// How a journal names it (resuming against another target is refused).
    pub fn name(&self) -> String {
        match self {
            Target::Sandbox => "sandbox".into(),
            Target::Production => "production".into(),
            Target::Mock => "mock".into(),
            Target::BaseUrl(url) => url.clone(),
        }
    }
}

/// How the client authenticates.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A client id and API key: tokens are minted (or read from the token store).
    Key {
        /// The client id.
        client_id: String,
        /// The API key.
        api_key: Secret,
    },
    /// A fixed token.
    Token(Secret),
    /// None found (fine for `--env mock` only).
    None,
}

/// The settings of one run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where requests go.
    pub target: Target,
    /// How the client authenticates.
    pub credentials: Credentials,
    /// The default sub-account.
    pub on_behalf_of: Option<String>,
    /// The Redis token store's URLs (none: tokens kept in this process),
    /// the password put in (shown masked).
    pub token_store: Vec<StoreUrl>,
    /// Whether one URL is a cluster seed.
    pub token_store_cluster: bool,
}

/// One profile of the config file.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `sandbox`, `production` or `mock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A base URL instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The API key, kept in the file (0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// A file holding the API key, read at every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// The default sub-account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// The Redis token store's URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_store: Vec<String>,
    /// Whether one token store URL is a cluster seed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token_store_cluster: bool,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("env", &self.env)
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("api_key_file", &self.api_key_file)
            .field("on_behalf_of", &self.on_behalf_of)
            .field(
                "token_store",
                &self
                    .token_store
                    .iter()
                    .map(|u| redis_url::mask(u))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The config file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The config directory: `UQPAY_CONFIG_DIR`, else the platform's
/// (`~/.config/uqpay-issuing` on Linux).
pub fn config_dir() -> Result<PathBuf, Failure> {
    if let Some(dir) = std::env::var_os("UQPAY_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("com", "uqpay", "uqpay-issuing")
        .map(|dirs| dirs.config_dir().to_path_buf())
        .ok_or_else(|| {
            Failure::usage("no home directory to keep the config file in: set UQPAY_CONFIG_DIR")
        })
}

/// Reads the config file (an absent file is an empty one), warning when
/// others may read it.
pub fn load() -> Result<(PathBuf, ConfigFile), Failure> {
    let path = config_dir()?.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((path, ConfigFile::default()))
        }
        Err(e) => {
            return Err(Failure::usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )))
        }
    };
    warn_if_open(&path, "holds credentials");
    let file = toml::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "the config file {} is not valid: {}",
            path.display(),
            e.message()
        ))
    })?;
    Ok((path, file))
}

/// Writes the config file, readable by its owner only (0600), replacing it
/// in one step.
pub fn save(path: &Path, file: &ConfigFile) -> Result<(), Failure> {
    let text = toml::to_string_pretty(file)
        .map_err(|e| Failure::internal(format!("cannot write the config: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let temporary = path.with_extension("toml.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut out = options.open(&temporary)?;
        #[cfg(unix)]
        out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))
}

/// Warns when the file's mode lets others than its owner read it; `what`
/// says what it holds ("holds credentials").
pub fn warn_if_open(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                output::warn(&format!(
                    "{} {what} and is readable by others (mode {mode:03o}): chmod 600 it",
                    path.display()
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn read_key_file(path: &Path) -> Result<Secret, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read the API key file {}: {e}",
            path.display()
        ))
    })?;
    let key = text.trim();
    if key.is_empty() {
        return Err(Failure::usage(format!(
            "the API key file {} is empty",
            path.display()
        )));
    }
    Ok(Secret(key.to_owned()))
}

fn parse_env(name: &str) -> Result<Target, Failure> {
    match name {
        "sandbox" => Ok(Target::Sandbox),
        "production" | "prod" => Ok(Target::Production),
        "mock" => Ok(Target::Mock),
        other => Err(Failure::usage(format!(
            "unknown environment {other:?} (sandbox, production or mock)"
        ))),
    }
}

/// The settings of this run.
pub fn resolve(global: &Global) -> Result<Settings, Failure> {
    let profile_name = global.profile.clone().or_else(|| env("UQPAY_PROFILE"));
    let profile = match &profile_name {
        Some(name) => {
            let (path, file) = load()?;
            Some(file.profiles.get(name).cloned().ok_or_else(|| {
                Failure::usage(format!(
                    "no profile {name:?} in {} (see `uqpay-issuing profile set`)",
                    path.display()
                ))
            })?)
        }
        None => None,
    };
    let profile = profile.unwrap_or_default();

    let target = if let Some(url) = &global.base_url {
        Target::BaseUrl(url.clone())
    } else if let Some(env) = global.env {
        match env {
            Env::Sandbox => Target::Sandbox,
            Env::Production => Target::Production,
            Env::Mock => Target::Mock,
        }
    } else if let Some(url) = env("UQPAY_BASE_URL") {
        Target::BaseUrl(url)
    } else if let Some(name) = env("UQPAY_ENV") {
        parse_env(&name.to_ascii_lowercase())?
    } else if let Some(url) = &profile.base_url {
        Target::BaseUrl(url.clone())
    } else if let Some(name) = &profile.env {
        parse_env(name)?
    } else {
        Target::Sandbox
    };

    let credentials = if let Some(client_id) = env("UQPAY_CLIENT_ID") {
        let api_key =
            match (env("UQPAY_API_KEY"), env("UQPAY_API_KEY_FILE")) {
                (Some(key), _) => Secret(key),
                (None, Some(file)) => read_key_file(Path::new(&file))?,
                (None, None) => return Err(Failure::usage(
                    "UQPAY_CLIENT_ID is set but neither UQPAY_API_KEY nor UQPAY_API_KEY_FILE is",
                )),
            };
        Credentials::Key { client_id, api_key }
    } else if let Some(token) = env("UQPAY_API_TOKEN") {
        Credentials::Token(Secret(token))
    } else if let Some(client_id) = profile.client_id.clone() {
        let api_key = match (&profile.api_key, &profile.api_key_file) {
            (Some(key), _) => Secret(key.clone()),
            (None, Some(file)) => read_key_file(file)?,
            (None, None) => {
                return Err(Failure::usage(format!(
                    "profile {:?} has a client id but no API key",
                    profile_name.unwrap_or_default()
                )))
            }
        };
        Credentials::Key { client_id, api_key }
    } else {
        Credentials::None
    };

    let token_store = token_store(global, &profile, profile_name.as_deref())?;

    Ok(Settings {
        target,
        credentials,
        on_behalf_of: profile.on_behalf_of.clone(),
        token_store,
        token_store_cluster: global.token_store_cluster || profile.token_store_cluster,
    })
}

/// Where the token store's password goes instead of a URL.
pub const PASSWORD_HELP: &str = "give the password in UQPAY_TOKEN_STORE_PASSWORD, or in a file \
     named by UQPAY_TOKEN_STORE_PASSWORD_FILE, and leave it out of the URL (redis://HOST:PORT, \
     with USER@ before the host for an ACL user)";

/// Refuses (exit 2) a token store URL carrying a password where a secret
/// may not go (`where_`: "--token-store", "profile \"ops\"").
pub fn refuse_password(url: &str, where_: &str) -> Result<(), Failure> {
    if redis_url::has_password(url) {
        return Err(Failure::usage(format!(
            "the token store URL {} of {where_} carries a password: no flag and no profile \
             takes a secret (flags show in `ps` and shell histories, profiles are files); \
             {PASSWORD_HELP}",
            redis_url::mask(url)
        )));
    }
    Ok(())
}

/// The token store's password, from `UQPAY_TOKEN_STORE_PASSWORD` or the
/// file `UQPAY_TOKEN_STORE_PASSWORD_FILE` names.
fn store_password() -> Result<Option<String>, Failure> {
    if let Some(password) = env("UQPAY_TOKEN_STORE_PASSWORD") {
        return Ok(Some(password));
    }
    let Some(file) = env("UQPAY_TOKEN_STORE_PASSWORD_FILE") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Failure::usage(format!(
            "cannot read UQPAY_TOKEN_STORE_PASSWORD_FILE {file}: {e}"
        ))
    })?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(Failure::usage(format!(
            "UQPAY_TOKEN_STORE_PASSWORD_FILE {file} is empty"
        )));
    }
    Ok(Some(password.to_owned()))
}

/// The token store's URLs: `--token-store`, else `UQPAY_TOKEN_STORE`, else
/// the profile's; a password in a flag's or a profile's URL refused, the
/// password of the variables put in.
fn token_store(
    global: &Global,
    profile: &Profile,
    profile_name: Option<&str>,
) -> Result<Vec<StoreUrl>, Failure> {
    let (mut urls, from_env) = if !global.token_store.is_empty() {
        (global.token_store.clone(), false)
    } else if let Some(urls) = env("UQPAY_TOKEN_STORE") {
        (urls.split(',').map(|u| u.trim().to_owned()).collect(), true)
    } else {
        (profile.token_store.clone(), false)
    };
    urls.retain(|u| !u.is_empty());
    if !from_env {
        let where_ = if global.token_store.is_empty() {
            format!("profile {:?}", profile_name.unwrap_or_default())
        } else {
            "--token-store".to_owned()
        };
        for url in &urls {
            refuse_password(url, &where_)?;
        }
    }
    let Some(password) = store_password()? else {
        return Ok(urls.into_iter().map(StoreUrl::new).collect());
    };
    urls.into_iter()
        .map(|url| {
            if redis_url::has_password(&url) {
                return Err(Failure::usage(format!(
                    "UQPAY_TOKEN_STORE's URL {} carries a password and \
                     UQPAY_TOKEN_STORE_PASSWORD(_FILE) gives one too: keep one",
                    redis_url::mask(&url)
                )));
            }
            redis_url::with_password(&url, &password)
                .map(StoreUrl::new)
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "the token store URL {} is not a URL (redis://HOST:PORT)",
                        redis_url::mask(&url)
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show() {
        let profile = Profile {
            api_key: Some("key-SECRET".into()),
            token_store: vec!["redis://:pw-SECRET@r1:6379".into()],
            ..Profile::default()
        };
        assert!(!format!("{profile:?}").contains("SECRET"));
        assert_eq!(format!("{:?}", Secret("x".into())), "[REDACTED]");
        let settings = Settings {
            target: Target::Mock,
            credentials: Credentials::None,
            on_behalf_of: None,
            token_store: vec![StoreUrl::new("rediss://ops:pw-SECRET@r1:6380")],
            token_store_cluster: false,
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("SECRET") && shown.contains("r1:6380"),
            "{shown}"
        );
    }

    #[test]
    fn passwords_in_urls_of_flags_and_profiles_are_refused() {
        let refused = refuse_password("redis://:pw-SECRET@r1:6379", "--token-store").unwrap_err();
        assert_eq!(refused.code, crate::exit::USAGE);
        assert!(refused.message.contains("UQPAY_TOKEN_STORE_PASSWORD"));
        assert!(!refused.message.contains("SECRET"), "{}", refused.message);
        refuse_password("redis://ops@r1:6379", "--token-store").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_written_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("uqpay-cli-config-{}", std::process::id()));
        let path = dir.join(FILE_NAME);
        let mut file = ConfigFile::default();
        file.profiles.insert(
            "prod".into(),
            Profile {
                env: Some("production".into()),
                client_id: Some("c".into()),
                api_key: Some("k".into()),
                ..Profile::default()
            },
        );
        save(&path, &file).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back: ConfigFile = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back.profiles["prod"].client_id.as_deref(), Some("c"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
