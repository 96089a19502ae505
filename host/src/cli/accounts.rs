//! `xacct accounts`: the accounts a run would know — with `[organization]`, as listed
//! from AWS Organizations — as a table, JSON, or `[[account]]` TOML to review or pin.

use std::io::Write;
use std::process::ExitCode;

use super::args::{AccountsArgs, AccountsOutput};
use super::error::UsageError;
use super::load::{load_config_file, with_home_region};
use super::rows::{AccountRow, account_line};
use crate::pipeline::connect;

pub async fn accounts(args: AccountsArgs) -> Result<ExitCode, UsageError> {
    let mut config = with_home_region(load_config_file(&args.config)?, &args.config).await?;
    if let Some(organization) = &mut config.aws.organization {
        // The listing prints each account's tags.
        organization.list_tags = true;
        connect(&mut config).await?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.output {
        AccountsOutput::Json => {
            let accounts: Vec<AccountRow> = config
                .accounts
                .iter()
                .map(|a| AccountRow {
                    alias: &a.alias,
                    id: &a.id,
                    region: &a.region,
                    role: config.aws.role_of(&a.id).map(|role| role.role_arn),
                    tags: &a.tags,
                })
                .collect();
            writeln!(stdout, "{}", serde_json::to_string_pretty(&accounts)?)?;
        }
        AccountsOutput::Toml => {
            writeln!(
                stdout,
                "# {} account(s) as listed for {}; paste into the config to pin or override them.",
                config.accounts.len(),
                config.path.display()
            )?;
            for account in &config.accounts {
                let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
                writeln!(stdout, "\n[[account]]")?;
                writeln!(stdout, "id = {}", quoted(&account.id))?;
                writeln!(stdout, "alias = {}", quoted(&account.alias))?;
                if !account.inherits_region {
                    writeln!(stdout, "region = {}", quoted(&account.region))?;
                }
                if let Some(role) = config.aws.role_of(&account.id) {
                    writeln!(stdout, "role = {}", quoted(&role.role_arn))?;
                }
                if !account.tags.is_empty() {
                    let tags: Vec<String> = account
                        .tags
                        .iter()
                        .map(|(k, v)| format!("{} = {}", quoted(k), quoted(v)))
                        .collect();
                    writeln!(stdout, "tags = {{ {} }}", tags.join(", "))?;
                }
            }
        }
        AccountsOutput::Table => {
            for account in &config.accounts {
                let cells = (&*account.id, &*account.alias, &*account.region);
                writeln!(stdout, "{}", account_line(cells, &account.tags, (24, 14)))?;
            }
            writeln!(stdout, "{} account(s)", config.accounts.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
