//! Prints what the provenance library reads of a plugin file — digest, signatures and
//! their signers, declared grant, standard metadata — until `xacct verify` does:
//!
//! ```sh
//! cargo run -p xacct-provenance --example inspect -- PLUGIN.wasm [ALLOWED_SIGNERS]
//! ```
//!
//! A `PLUGIN.wasm.sig` beside the file is checked as its detached signature.

use std::time::SystemTime;

use xacct_provenance::{PluginFile, Signature, TrustedSigners};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: inspect PLUGIN.wasm [ALLOWED_SIGNERS]")?;
    let bytes = std::fs::read(&path)?;
    let mut trusted = TrustedSigners::new();
    if let Some(allowed) = args.next() {
        trusted.add_allowed_signers(&std::fs::read_to_string(&allowed)?, &allowed)?;
    }
    let detached = match std::fs::read(format!("{path}.sig")) {
        Ok(text) => Some(Signature::from_armored(&text)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    let plugin = PluginFile::parse(&bytes)?;
    println!("file:      {path}");
    println!("kind:      {:?}", plugin.kind());
    println!("sha256:    {}", plugin.digest());
    for checked in plugin
        .verify(detached.as_ref(), &trusted, SystemTime::now())?
        .signatures
    {
        match checked.trust {
            Ok(signer) => println!(
                "signed:    {} by {} ({}; {})",
                checked.carrier,
                signer.fingerprint,
                signer.principals.join(", "),
                signer.origin
            ),
            Err(why) => println!("signed:    {} — {why}", checked.carrier),
        }
    }
    match plugin.declaration()? {
        Some(declared) => println!(
            "declares:  ({:?}{})\n{}",
            declared.place,
            if declared.replaces_built {
                ", replacing the built one"
            } else {
                ""
            },
            declared.declaration.to_text()
        ),
        None => println!("declares:  nothing"),
    }
    println!("metadata:  {:#?}", plugin.metadata()?);
    Ok(())
}
