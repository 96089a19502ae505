//! `xacct sign` and `xacct verify`: SSH signatures of plugin files (namespace
//! `xacct-plugin`), embedded as the file's last section or detached beside it as
//! `PLUGIN.wasm.sig`, interchangeable with `ssh-keygen -Y sign` / `-Y verify`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, anyhow};
use xacct_core::report::text::inert;
use xacct_core::sandbox::{TrustPolicy, detached_signature_path};
use xacct_provenance::{
    Carrier, PluginFile, Signature, SigningKey, embed_signature, sign, sign_embedded,
};

use super::args::{SignArgs, VerifyArgs};
use super::error::UsageError;
use super::load::load_config_file;
use crate::config::{ConfigError, locate};

pub fn sign_plugin(args: SignArgs) -> Result<ExitCode, UsageError> {
    let bytes = read(&args.plugin)?;
    let mut stdout = std::io::stdout().lock();
    match (&args.key, &args.signature) {
        (Some(key), None) => {
            let text = std::fs::read_to_string(key)
                .with_context(|| format!("{}: cannot read the key", key.display()))?;
            let key_error = |err| anyhow!("{}: {err}", key.display());
            let signing_key = SigningKey::from_openssh(&text).map_err(key_error)?;
            let fingerprint = signing_key.public_key().fingerprint();
            if args.detached {
                let signature = sign(&bytes, &signing_key).map_err(|err| anyhow!("{err}"))?;
                let sig_path = detached_signature_path(&args.plugin);
                replace(&sig_path, signature.to_armored().as_bytes())?;
                writeln!(
                    stdout,
                    "signed {} by {fingerprint}: {}",
                    args.plugin.display(),
                    sig_path.display()
                )?;
            } else {
                let signed = sign_embedded(&bytes, &signing_key)
                    .map_err(|err| anyhow!("{}: {err}", args.plugin.display()))?;
                replace(&args.plugin, &signed)?;
                report_embedded(&mut stdout, &args.plugin, &signed, &fingerprint)?;
            }
        }
        (None, Some(sig_file)) => {
            let text = std::fs::read(sig_file)
                .with_context(|| format!("{}: cannot read the signature", sig_file.display()))?;
            let signature = Signature::from_armored(&text)
                .map_err(|err| anyhow!("{}: {err}", sig_file.display()))?;
            let signed = embed_signature(&bytes, &signature).map_err(|err| {
                anyhow!(
                    "{}: {err} (a signature to embed is made over the file without its embedded signature: xacct verify {} --extract-unsigned FILE gives those bytes)",
                    sig_file.display(),
                    args.plugin.display()
                )
            })?;
            replace(&args.plugin, &signed)?;
            report_embedded(
                &mut stdout,
                &args.plugin,
                &signed,
                &signature.key().fingerprint(),
            )?;
        }
        _ => {
            return Err(UsageError(anyhow!(
                "give either --key KEYFILE (an unencrypted OpenSSH ed25519 key) or --signature FILE.sig (made with ssh-keygen -Y sign -n xacct-plugin)"
            )));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Signing changed the file, and so its digest: the pin to write.
fn report_embedded(
    out: &mut impl Write,
    plugin: &Path,
    signed: &[u8],
    fingerprint: &str,
) -> Result<(), UsageError> {
    let digest = xacct_provenance::Digest::of(signed);
    writeln!(
        out,
        "signed {} by {fingerprint} (embedded)\nits sha256 is now {digest}: pin it with sha256 = \"{digest}\"",
        plugin.display()
    )?;
    Ok(())
}

pub fn verify_plugin(args: VerifyArgs) -> Result<ExitCode, UsageError> {
    let bytes = read(&args.plugin)?;
    let file = PluginFile::parse(&bytes)
        .map_err(|err| anyhow!("{}: refused: {err}", args.plugin.display()))?;
    if let Some(out) = &args.extract_unsigned {
        replace(out, file.unsigned_bytes())?;
    }
    let name = args
        .plugin
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or_default();
    let trust = trust_policy(&args, name)?;
    let sig_path = detached_signature_path(&args.plugin);
    let detached = match std::fs::read(&sig_path) {
        Ok(text) => Some(
            Signature::from_armored(&text)
                .map_err(|err| anyhow!("{}: refused: {err}", sig_path.display()))?,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(anyhow!("{}: {err}", sig_path.display()).into()),
    };
    let verification = file
        .verify(detached.as_ref(), &trust.signers, SystemTime::now())
        .map_err(|err| anyhow!("{}: refused: {err}", args.plugin.display()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", args.plugin.display())?;
    writeln!(stdout, "  sha256: {}", file.digest())?;
    if verification.signatures.is_empty() {
        writeln!(stdout, "  unsigned")?;
    }
    for checked in &verification.signatures {
        let carrier = match checked.carrier {
            Carrier::Embedded => "embedded signature".to_owned(),
            Carrier::Detached => format!("detached signature {}", sig_path.display()),
        };
        let standing = match &checked.trust {
            Ok(signer) => format!(
                "trusted: {}{}",
                signer.origin,
                match signer.principals.join(", ") {
                    principals if principals.is_empty() => String::new(),
                    principals => format!(" ({})", inert(&principals)),
                }
            ),
            Err(why) => format!("NOT trusted: {why}"),
        };
        writeln!(
            stdout,
            "  {carrier}: valid, by {} — {standing}",
            checked.key.fingerprint()
        )?;
    }
    match file.declaration() {
        Ok(Some(declared)) => writeln!(
            stdout,
            "  declared grant:\n{}",
            indent(&declared.declaration.to_text())
        )?,
        Ok(None) => writeln!(stdout, "  declared grant: none")?,
        Err(err) => writeln!(stdout, "  declared grant: refused: {err}")?,
    }
    match file.metadata() {
        Ok(metadata) => {
            for (label, value) in super::metadata::metadata_fields(&metadata) {
                writeln!(stdout, "  {label}: {}", inert(value))?;
            }
        }
        Err(err) => writeln!(stdout, "  metadata: refused: {err}")?,
    }
    Ok(match verification.trusted_signer() {
        Ok(_) => ExitCode::SUCCESS,
        Err(why) => {
            writeln!(stdout, "  not accepted under [{}]: {why}", trust.key)?;
            ExitCode::from(1)
        }
    })
}

/// The trust policy the config gives plugin `name`; none without a config.
fn trust_policy(args: &VerifyArgs, name: &str) -> Result<TrustPolicy, UsageError> {
    match locate(args.config.config.as_deref()) {
        Err(ConfigError::NotFound) => Ok(TrustPolicy {
            key: "trust".into(),
            ..TrustPolicy::default()
        }),
        Err(err) => Err(err.into()),
        Ok(_) => Ok(load_config_file(&args.config)?.trust_for(name).clone()),
    }
}

/// `text` indented under its label, each line made inert (it is the plugin author's).
fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {}", inert(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read(path: &Path) -> Result<Vec<u8>, UsageError> {
    Ok(std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?)
}

/// Writes `path` whole or not at all: a new file beside it, renamed over it.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), UsageError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut staged = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("{}: cannot write", dir.display()))?;
    staged
        .write_all(bytes)
        .and_then(|()| staged.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    staged
        .persist(path)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}
