//! TEST STAND-IN for OctaneRender Standalone, never the real thing.
//!
//! It takes the options the farm uses as Octane documents them
//! (`--no-gui`, `--script FILE`, `-a ARG` for each script argument,
//! `--version`), refuses an option it does not know as Octane's parser does
//! (`PARSE ERROR`), and runs the script in a real Lua 5.4 interpreter with
//! the script arguments in `arg` and a stand-in `octane` table
//! (`src/octane_prelude.lua`) whose renders are real EXR files.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use mlua::Lua;
use renderer_standins::{Shot, render};

/// The version this stand-in claims.
const VERSION: &str = "2024.1.2";

/// The stand-in `octane` table.
const PRELUDE: &str = include_str!("../octane_prelude.lua");

/// What the command line asked for.
struct Request {
    script: Option<String>,
    args: Vec<String>,
}

/// Read the options; `Ok(None)` for `--version`.
fn parse(argv: &[String]) -> Result<Option<Request>, String> {
    let mut request = Request {
        script: None,
        args: Vec::new(),
    };
    let mut i = 0;
    while i < argv.len() {
        let needs = |i: usize| {
            argv.get(i + 1).cloned().ok_or_else(|| {
                format!(
                    "PARSE ERROR: Argument: {}\n             Missing a value for this argument!",
                    argv[i]
                )
            })
        };
        match argv[i].as_str() {
            "--version" => return Ok(None),
            "--no-gui" => i += 1,
            "--script" => {
                request.script = Some(needs(i)?);
                i += 2;
            }
            "-a" | "--script-args" => {
                request.args.push(needs(i)?);
                i += 2;
            }
            other if other.starts_with('-') => {
                return Err(format!(
                    "PARSE ERROR: Argument: {other}\n             Couldn't find match for argument"
                ));
            }
            _ => i += 1,
        }
    }
    Ok(Some(request))
}

/// Run `script` with `args` against the stand-in API.
fn run_script(script: &str, args: &[String]) -> mlua::Result<()> {
    let lua = Lua::new();
    let standin = lua.create_table()?;
    standin.set(
        "read",
        lua.create_function(|lua, path: String| match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(lua.create_string(&bytes)?)),
            Err(_) => Ok(None),
        })?,
    )?;
    standin.set(
        "sleep",
        lua.create_function(|_, ms: f64| {
            std::thread::sleep(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
            Ok(())
        })?,
    )?;
    standin.set(
        "render",
        lua.create_function(
            |_,
             (scene, settings, frame, width, height, path): (
                mlua::String,
                String,
                i32,
                u32,
                u32,
                String,
            )| {
                let scene = scene.as_bytes().to_vec();
                let shot = Shot {
                    inputs: vec![&scene],
                    settings,
                    frame,
                    width,
                    height,
                };
                Ok(render(&shot, Path::new(&path)).is_ok())
            },
        )?,
    )?;
    lua.load(PRELUDE)
        .set_name("octane_prelude.lua")
        .call::<()>(standin)?;
    let argv = lua.create_sequence_from(args.iter().map(String::as_str))?;
    lua.globals().set("arg", argv)?;
    let source = std::fs::read_to_string(script)
        .map_err(|e| mlua::Error::RuntimeError(format!("cannot read {script}: {e}")))?;
    lua.load(source).set_name(script).exec()
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let request = match parse(&argv) {
        Ok(None) => {
            println!("\noctane  version: {VERSION} (test stand-in)\n");
            return ExitCode::SUCCESS;
        }
        Ok(Some(request)) => request,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(1);
        }
    };
    println!("OctaneRender {VERSION} stand-in for tests");
    let Some(script) = request.script else {
        eprintln!("error: without a GUI there is nothing to do but run a script; give --script");
        return ExitCode::from(1);
    };
    match run_script(&script, &request.args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Lua error: {error}");
            ExitCode::from(1)
        }
    }
}
