//! TEST STAND-IN for Cinema 4D's `Commandline`, never the real thing.
//!
//! It takes the command line Maxon documents (`-nogui`, `-render FILE`,
//! `-frame FIRST [LAST [STEP]]`, `-oimage PATH`, `-oformat FORMAT`,
//! `-oresolution W H`, `-take NAME`, `-threads N`; `-version` prints a
//! version banner), prints `Rendering frame N at HH:MM:SS`, `Progress: P%`
//! and `Rendering successful: S sec.` as farm managers parse them, saves
//! frame N to `<oimage>NNNN.exr` (four digits), and refuses what Commandline
//! refuses: a document it cannot load (`Error loading document`), an image
//! format it does not know, a take the document does not have (which, like
//! Commandline, it reports and then exits 0 having rendered nothing).
//!
//! Its documents are text: `C4D-STANDIN 1`, then `size W H`, `take NAME`
//! (one per take; `Main` is always there), `asset RELATIVE/PATH` (files
//! beside the document, like a project saved with its assets; a missing one
//! renders magenta, as Cinema 4D renders a missing texture), `delay_ms N`
//! (time each frame takes).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use renderer_standins::{Scene, Shot, render};

/// The version this stand-in claims.
const VERSION: &str = "2024.4.1";

/// Image formats Commandline's `-oformat` takes.
const FORMATS: [&str; 13] = [
    "TIFF", "TGA", "BMP", "IFF", "JPG", "PICT", "PSD", "PSB", "RLA", "RPF", "B3D", "PNG", "EXR",
];

/// What the command line asked for.
#[derive(Default)]
struct Request {
    scene: Option<PathBuf>,
    frames: Option<(i32, i32, i32)>,
    oimage: Option<PathBuf>,
    oformat: Option<String>,
    resolution: Option<(u32, u32)>,
    take: Option<String>,
}

/// Read the arguments in order, as Commandline does.
fn parse(args: &[String]) -> Result<Option<Request>, String> {
    let mut request = Request::default();
    let mut i = 0;
    let value = |i: usize, flag: &str| {
        args.get(i + 1)
            .cloned()
            .ok_or_else(|| format!("Error: {flag} needs a value"))
    };
    let number = |text: Option<&String>| text.and_then(|t| t.parse::<i32>().ok());
    while i < args.len() {
        match args[i].as_str() {
            "-nogui" => i += 1,
            "-version" => return Ok(None),
            "-render" => {
                request.scene = Some(value(i, "-render")?.into());
                i += 2;
            }
            "-frame" => {
                let first = number(args.get(i + 1)).ok_or("Error: -frame needs a first frame")?;
                let last = number(args.get(i + 2));
                let step = last.and_then(|_| number(args.get(i + 3)));
                i += 2 + usize::from(last.is_some()) + usize::from(step.is_some());
                let step = step.unwrap_or(1);
                if step < 1 {
                    return Err(format!("Error: invalid frame step {step}"));
                }
                request.frames = Some((first, last.unwrap_or(first), step));
            }
            "-oimage" => {
                request.oimage = Some(value(i, "-oimage")?.into());
                i += 2;
            }
            "-oformat" => {
                request.oformat = Some(value(i, "-oformat")?.to_ascii_uppercase());
                i += 2;
            }
            "-oresolution" => {
                let w = number(args.get(i + 1));
                let h = number(args.get(i + 2));
                match (w, h) {
                    (Some(w), Some(h)) if w > 0 && h > 0 => {
                        request.resolution = Some((w as u32, h as u32));
                    }
                    _ => return Err("Error: -oresolution needs a width and a height".into()),
                }
                i += 3;
            }
            "-take" => {
                request.take = Some(value(i, "-take")?);
                i += 2;
            }
            "-threads" => {
                number(args.get(i + 1))
                    .filter(|n| *n >= 0)
                    .ok_or("Error: -threads needs a number")?;
                i += 2;
            }
            // Plugins take their own switches; Commandline passes them on.
            _ => i += 1,
        }
    }
    Ok(Some(request))
}

/// `HH:MM:SS` of the wall clock (UTC).
fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// Render the request; `Err` is a message and the exit code.
fn run(request: Request) -> Result<(), (String, u8)> {
    let Some(scene_path) = request.scene else {
        return Err(("Error: nothing to render (no -render)".into(), 1));
    };
    let scene = Scene::read(&scene_path, "C4D-STANDIN").map_err(|_| {
        (
            format!("Error loading document: {}", scene_path.display()),
            1,
        )
    })?;
    println!("Document loaded: {}", scene_path.display());
    let format = request.oformat.unwrap_or_else(|| "TIFF".into());
    if !FORMATS.contains(&format.as_str()) {
        return Err((format!("Error: unknown image format {format}"), 1));
    }
    if format != "EXR" {
        return Err((
            format!("Error: this stand-in writes EXR only, not {format}"),
            1,
        ));
    }
    let Some(oimage) = request.oimage else {
        return Err((
            "Error: the document has no save path and -oimage was not given".into(),
            1,
        ));
    };
    let mut takes = vec!["Main".to_owned()];
    takes.extend(scene.all("take").iter().filter_map(|v| v.first().cloned()));
    let take = request.take.unwrap_or_else(|| "Main".into());
    if !takes.contains(&take) {
        println!("Error: Take \"{take}\" not found");
        println!("Rendering failed: no take to render");
        return Ok(());
    }
    let (width, height) = request
        .resolution
        .or_else(|| scene.numbers("size").map(|s| (s[0], s[1])))
        .unwrap_or((64, 36));
    let base = scene_path.parent().unwrap_or(Path::new("."));
    let mut assets = Vec::new();
    for asset in scene.all("asset").iter().filter_map(|v| v.first()) {
        match std::fs::read(base.join(asset)) {
            Ok(bytes) => assets.push(bytes),
            Err(_) => {
                println!("Warning: asset missing: {asset}");
                assets.push(b"magenta".to_vec());
            }
        }
    }
    let delay = Duration::from_millis(
        scene
            .numbers("delay_ms")
            .and_then(|v| v.first().copied())
            .unwrap_or(0)
            .into(),
    );
    let (first, last, step) = request.frames.unwrap_or((0, 0, 1));
    let started = Instant::now();
    let mut frame = first;
    while frame <= last {
        println!("Rendering frame {frame} at {}", clock());
        for percent in [0, 50, 100] {
            std::thread::sleep(delay / 2);
            println!("Progress: {percent}%");
        }
        let mut inputs: Vec<&[u8]> = vec![&scene.bytes];
        inputs.extend(assets.iter().map(Vec::as_slice));
        let shot = Shot {
            inputs,
            settings: format!("take={take}"),
            frame,
            width,
            height,
        };
        let mut path = oimage.clone().into_os_string();
        path.push(format!("{frame:04}.exr"));
        render(&shot, Path::new(&path)).map_err(|e| (format!("Error: {e}"), 1))?;
        frame += step;
    }
    println!(
        "Rendering successful: {:.3} sec.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("Cinema 4D {VERSION} (Build STANDIN) Commandline stand-in for tests");
    match parse(&args) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(request)) => match run(request) {
            Ok(()) => ExitCode::SUCCESS,
            Err((message, code)) => {
                println!("{message}");
                println!("Rendering failed");
                ExitCode::from(code)
            }
        },
        Err(message) => {
            println!("{message}");
            ExitCode::from(1)
        }
    }
}
