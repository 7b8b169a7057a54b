//! `farm node-classes` (what the farm sells, any token) and `farm
//! node-class set|delete` (admins): node classes with their device, price
//! per render second, minimum per frame and speed score.

use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::Api;
use crate::error::Failure;
use crate::output::Output;
use crate::show;
use crate::table::{Align, Table};

/// What a class renders on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The CPU.
    Cpu,
    /// CUDA or OptiX.
    Gpu,
}

/// `farm node-class`'s actions.
#[derive(Debug, Subcommand)]
pub enum ClassCommand {
    /// Define or redefine a node class (admins).
    Set(Box<SetArgs>),
    /// Remove a node class no enrollment token or worker uses (admins).
    Delete {
        /// The class.
        name: String,
    },
}

/// `farm node-class set`'s arguments.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The class (`gpu-fast`).
    pub name: String,
    /// What its workers render on.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: Device,
    /// Price per render second of a frame, in currency units (`0.0004`);
    /// without it, frames are billed at the device class rates.
    #[arg(long)]
    pub price: Option<String>,
    /// Least a frame costs, in currency units.
    #[arg(long)]
    pub min: Option<String>,
    /// Speed relative to the other classes (1.0 is the reference).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Slowest registration benchmark frame, in seconds, that earns it.
    #[arg(long)]
    pub benchmark_max_secs: Option<f64>,
    /// What it is, for buyers.
    #[arg(long)]
    pub description: Option<String>,
}

/// A class as the API gives it.
#[derive(Debug, Deserialize)]
struct NodeClass {
    name: String,
    device: Device,
    price_micros_per_second: Option<i64>,
    min_micros_per_frame: i64,
    speed_score: f64,
    benchmark_max_secs: Option<f64>,
    description: String,
}

/// The body of `PUT /api/v1/node-classes/{name}`.
#[derive(Debug, Serialize)]
struct PutBody<'a> {
    device: Device,
    price_micros_per_second: Option<i64>,
    min_micros_per_frame: Option<i64>,
    speed_score: Option<f64>,
    benchmark_max_secs: Option<f64>,
    description: Option<&'a str>,
}

/// `text` (a decimal amount with at most six decimals) in micro-units.
fn micros(what: &str, text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::usage(format!(
            "{what} {text:?} is not an amount: write a decimal number with at most 6 decimals, like 0.0004"
        ))
    };
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || fraction.len() > 6 {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)
}

/// `farm node-classes`.
pub async fn list(api: &Api, output: &Output) -> Result<(), Failure> {
    let path = "/api/v1/node-classes";
    let (value, classes): (Value, Vec<NodeClass>) = api.get_both(path).await?;
    if output.json {
        return Ok(output.json_line(&value)?);
    }
    if classes.is_empty() {
        return Ok(output.say("no node classes")?);
    }
    let mut table = Table::new(&[
        ("NODE CLASS", Align::Left),
        ("DEVICE", Align::Left),
        ("PER SECOND", Align::Right),
        ("MIN PER FRAME", Align::Right),
        ("SPEED", Align::Right),
        ("BENCHMARK", Align::Right),
        ("DESCRIPTION", Align::Left),
    ]);
    for class in classes {
        table.row(vec![
            class.name,
            format!("{:?}", class.device).to_lowercase(),
            class
                .price_micros_per_second
                .map_or("device rates".to_owned(), |p| show::money(p, "")),
            show::money(class.min_micros_per_frame, ""),
            format!("{:.2}", class.speed_score),
            class
                .benchmark_max_secs
                .map_or(String::new(), |s| format!("≤ {}", show::duration(s))),
            class.description,
        ]);
    }
    Ok(output.say(&table.to_string())?)
}

/// `farm node-class set|delete`.
pub async fn run(api: &Api, command: &ClassCommand, output: &Output) -> Result<(), Failure> {
    match command {
        ClassCommand::Set(args) => {
            let body = PutBody {
                device: args.device,
                price_micros_per_second: args
                    .price
                    .as_deref()
                    .map(|p| micros("--price", p))
                    .transpose()?,
                min_micros_per_frame: args
                    .min
                    .as_deref()
                    .map(|m| micros("--min", m))
                    .transpose()?,
                speed_score: args.speed,
                benchmark_max_secs: args.benchmark_max_secs,
                description: args.description.as_deref(),
            };
            let path = format!("/api/v1/node-classes/{}", args.name);
            let value: Value = api.put(&path, &body).await?;
            if output.json {
                return Ok(output.json_line(&value)?);
            }
            Ok(output.say(&format!("node class {} defined", args.name))?)
        }
        ClassCommand::Delete { name } => {
            api.delete(&format!("/api/v1/node-classes/{name}")).await?;
            Ok(output.say(&format!("node class {name} removed"))?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact() {
        assert_eq!(micros("--price", "0.0004").unwrap(), 400);
        assert_eq!(micros("--price", "2").unwrap(), 2_000_000);
        assert!(micros("--price", "0,4").is_err());
        assert!(micros("--price", "0.0000001").is_err());
        assert!(micros("--price", "-1").is_err());
    }
}
