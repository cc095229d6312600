//! `profile ...`: the profiles of the config file. The API key is never
//! printed, and never taken from a flag; a token store URL carrying a
//! password is refused, and one written into the file by hand shows masked.

use std::io::Read as _;

use serde_json::json;

use crate::cli::global::Env;
use crate::cli::profile::{ProfileCommand, SetArgs};
use crate::config::{self, Profile};
use crate::exit::{self, Failure};
use crate::output::Output;
use crate::redis_url;

/// Runs a profile command; the exit code.
pub fn run(command: ProfileCommand, out: Output) -> Result<u8, Failure> {
    match command {
        ProfileCommand::Set(args) => set(args, out)?,
        ProfileCommand::List => {
            let (path, file) = config::load()?;
            out.record(&json!({
                "config_file": path.display().to_string(),
                "profiles": file.profiles.keys().collect::<Vec<_>>(),
            }));
        }
        ProfileCommand::Show { name } => {
            let (path, file) = config::load()?;
            let profile = file.profiles.get(&name).ok_or_else(|| {
                Failure::usage(format!("no profile {name:?} in {}", path.display()))
            })?;
            out.record(&shown(&name, profile));
        }
    }
    Ok(exit::OK)
}

fn shown(name: &str, profile: &Profile) -> serde_json::Value {
    json!({
        "profile": name,
        "env": profile.env,
        "base_url": profile.base_url,
        "client_id": profile.client_id,
        "api_key": profile.api_key.as_ref().map(|_| "(kept in the config file)")
            .or(profile.api_key_file.as_ref().map(|_| "(read from api_key_file)")),
        "api_key_file": profile.api_key_file.as_ref().map(|p| p.display().to_string()),
        "on_behalf_of": profile.on_behalf_of,
        "token_store": profile.token_store.iter().map(|u| redis_url::mask(u)).collect::<Vec<_>>(),
        "token_store_cluster": profile.token_store_cluster,
    })
}

fn set(args: SetArgs, out: Output) -> Result<(), Failure> {
    let (path, mut file) = config::load()?;
    let profile = file.profiles.entry(args.name.clone()).or_default();
    if let Some(env) = args.env {
        profile.env = Some(
            match env {
                Env::Sandbox => "sandbox",
                Env::Production => "production",
                Env::Mock => "mock",
            }
            .into(),
        );
        profile.base_url = None;
    }
    if let Some(url) = args.base_url {
        profile.base_url = Some(url);
        profile.env = None;
    }
    if let Some(id) = args.client_id {
        profile.client_id = Some(id);
    }
    if args.api_key_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read the API key from stdin: {e}")))?;
        let key = text.trim();
        if key.is_empty() {
            return Err(Failure::usage("no API key on stdin"));
        }
        profile.api_key = Some(key.to_owned());
        profile.api_key_file = None;
    }
    if let Some(file) = args.api_key_file {
        profile.api_key_file = Some(file);
        profile.api_key = None;
    }
    if !args.token_store.is_empty() {
        for url in &args.token_store {
            config::refuse_password(url, "--profile-token-store")?;
        }
        profile.token_store = args.token_store;
    }
    if let Some(account) = args.on_behalf_of {
        profile.on_behalf_of = Some(account);
    }
    let shown = shown(&args.name, profile);
    config::save(&path, &file)?;
    out.record(&shown);
    Ok(())
}
