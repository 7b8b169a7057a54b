//! Where a job's frames may render: regions (ISO 3166 country codes and the
//! groups `EU`, `EEA`, `UK`, `US`), node classes (cheapest first), a GPU
//! model and a minimum of GPU memory; and the test of a worker against
//! them. Every fact a worker is tested on is the coordinator's own: region
//! and node class from its enrollment, GPU model from the device class its
//! enrollment grants; memory is what a worker of that granted model
//! announced.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The 27 member states of the European Union.
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The European Economic Area beyond the EU.
const EEA_MORE: [&str; 3] = ["IS", "LI", "NO"];

/// A job's placement constraints; the default places anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Regions as asked (`EU`, `DE`, `eu-west`); empty: anywhere.
    pub regions: Vec<String>,
    /// Node classes, cheapest first; empty: any.
    pub node_classes: Vec<String>,
    /// GPU model, as a device class (`rtx4090`, `h100`).
    pub gpu_model: Option<String>,
    /// Least GPU memory, MiB.
    pub min_vram_mib: Option<u64>,
}

/// What a worker (or an enrollment that may enroll more) is, as the
/// coordinator knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// Region from the enrollment.
    pub region: String,
    /// Node classes: the worker's one, or those an enrollment grants.
    pub node_classes: Vec<String>,
    /// Granted device classes (`cpu`, `rtx4090`).
    pub device_classes: Vec<String>,
    /// GPU memory of its largest GPU, MiB; `None` when not known yet (an
    /// enrollment nobody used).
    pub vram_mib: Option<u64>,
}

/// The constraint a seat fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmet {
    /// Not in the regions.
    Region,
    /// Not of the node classes.
    NodeClass,
    /// Not the GPU model.
    GpuModel,
    /// Too little GPU memory.
    Vram,
}

/// A region list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPlacement(pub String);

/// A region token as stored and compared: two letters are a country code
/// (upper case), anything else a region name as enrolled.
fn canonical(token: &str) -> String {
    let token = token.trim();
    if token.len() == 2 && token.chars().all(|c| c.is_ascii_alphabetic()) {
        token.to_ascii_uppercase()
    } else {
        token.to_owned()
    }
}

/// The countries (or region names) a region token stands for.
fn expand(token: &str) -> Vec<String> {
    match token.to_ascii_uppercase().as_str() {
        "EU" => EU.iter().map(|c| (*c).to_owned()).collect(),
        "EEA" => EU
            .iter()
            .chain(EEA_MORE.iter())
            .map(|c| (*c).to_owned())
            .collect(),
        "UK" | "GB" => vec!["GB".to_owned()],
        _ => vec![canonical(token)],
    }
}

/// A comma-separated list (`"EU, CH"`), trimmed, without empty entries.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Placement {
    /// Read a job's region and node class fields (each a comma-separated
    /// list), GPU model and minimum memory.
    pub fn parse(
        regions: Option<&str>,
        node_classes: Option<&str>,
        gpu_model: Option<&str>,
        min_vram_mib: Option<u64>,
    ) -> Result<Self, BadPlacement> {
        let regions: Vec<String> = regions.map(list).unwrap_or_default();
        for region in &regions {
            if region.len() > 64 || region.chars().any(|c| c.is_control()) {
                return Err(BadPlacement(format!(
                    "region {region:?} is not a region: use ISO country codes (DE, FR), EU, EEA, UK or US, or a region workers enrolled in"
                )));
            }
        }
        let node_classes = node_classes.map(list).unwrap_or_default();
        let gpu_model = gpu_model
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty());
        if min_vram_mib == Some(0) {
            return Err(BadPlacement(
                "min_vram_mib must be at least 1 MiB, or left out".to_owned(),
            ));
        }
        Ok(Self {
            regions: regions.iter().map(|r| canonical(r)).collect(),
            node_classes,
            gpu_model,
            min_vram_mib,
        })
    }

    /// Whether the job may render anywhere, on anything.
    pub fn is_anywhere(&self) -> bool {
        self.regions.is_empty()
            && self.node_classes.is_empty()
            && self.gpu_model.is_none()
            && self.min_vram_mib.is_none()
    }

    /// Every country code (or region name) the regions stand for.
    pub fn countries(&self) -> BTreeSet<String> {
        self.regions.iter().flat_map(|r| expand(r)).collect()
    }

    /// The first constraint `seat` fails, if any.
    pub fn unmet(&self, seat: &Seat) -> Option<Unmet> {
        if !self.regions.is_empty() && !self.countries().contains(&canonical(&seat.region)) {
            return Some(Unmet::Region);
        }
        if !self.node_classes.is_empty()
            && !seat
                .node_classes
                .iter()
                .any(|c| self.node_classes.contains(c))
        {
            return Some(Unmet::NodeClass);
        }
        if let Some(model) = &self.gpu_model
            && !seat.device_classes.contains(model)
        {
            return Some(Unmet::GpuModel);
        }
        let gpu = seat.device_classes.iter().any(|c| c != "cpu");
        match (self.min_vram_mib, seat.vram_mib) {
            (Some(_), _) if !gpu => Some(Unmet::Vram),
            (Some(least), Some(has)) if has < least => Some(Unmet::Vram),
            _ => None,
        }
    }

    /// Whether a worker in `seat` may render the job.
    pub fn admits(&self, seat: &Seat) -> bool {
        self.unmet(seat).is_none()
    }

    /// How early the seat's class comes in the job's list (cheapest first);
    /// 0 when the job names none.
    pub fn preference(&self, seat: &Seat) -> usize {
        self.node_classes
            .iter()
            .position(|c| seat.node_classes.contains(c))
            .unwrap_or(0)
    }

    /// Why no seat of `seats` can ever take the job, naming the constraint
    /// that leaves none; `None` when one can.
    pub fn unplaceable(&self, seats: &[Seat]) -> Option<String> {
        // A job that may render anywhere waits for whichever worker comes.
        if self.is_anywhere() || seats.iter().any(|s| self.admits(s)) {
            return None;
        }
        let has = |f: fn(&Seat) -> Vec<String>| {
            let mut all: Vec<String> = seats.iter().flat_map(f).collect();
            all.sort();
            all.dedup();
            if all.is_empty() {
                "none".to_owned()
            } else {
                all.join(", ")
            }
        };
        // Name the first constraint that alone leaves no seat.
        let alone = |keep: fn(&Placement) -> Placement| {
            let only = keep(self);
            !seats.iter().any(|s| only.admits(s))
        };
        let message = if alone(|p| Placement {
            regions: p.regions.clone(),
            ..Placement::default()
        }) {
            format!(
                "no worker of this farm is in region {} (its workers and enrollments are in: {})",
                self.regions.join(", "),
                has(|s| vec![s.region.clone()])
            )
        } else if alone(|p| Placement {
            node_classes: p.node_classes.clone(),
            ..Placement::default()
        }) {
            format!(
                "no worker of this farm is of node class {} (it has: {})",
                self.node_classes.join(", "),
                has(|s| s.node_classes.clone())
            )
        } else if alone(|p| Placement {
            gpu_model: p.gpu_model.clone(),
            ..Placement::default()
        }) {
            format!(
                "no worker of this farm has a {} GPU (its device classes: {})",
                self.gpu_model.as_deref().unwrap_or_default(),
                has(|s| s.device_classes.clone())
            )
        } else if alone(|p| Placement {
            min_vram_mib: p.min_vram_mib,
            ..Placement::default()
        }) {
            format!(
                "no worker of this farm has a GPU with {} MiB of memory",
                self.min_vram_mib.unwrap_or_default()
            )
        } else {
            "no worker of this farm meets region, node class, GPU model and memory together; loosen one (GET /api/v1/farm lists what it has)".to_owned()
        };
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(region: &str, class: &str, device: &str, vram: Option<u64>) -> Seat {
        Seat {
            region: region.into(),
            node_classes: vec![class.into()],
            device_classes: vec![device.into()],
            vram_mib: vram,
        }
    }

    #[test]
    fn groups_stand_for_their_countries() {
        let eu = Placement::parse(Some("eu"), None, None, None).unwrap();
        assert_eq!(eu.countries().len(), 27);
        assert!(eu.admits(&seat("de", "standard", "cpu", None)));
        assert!(eu.admits(&seat("FR", "standard", "cpu", None)));
        assert_eq!(
            eu.unmet(&seat("US", "standard", "cpu", None)),
            Some(Unmet::Region)
        );
        assert_eq!(
            eu.unmet(&seat("NO", "standard", "cpu", None)),
            Some(Unmet::Region),
            "Norway is in the EEA, not the EU"
        );
        let eea = Placement::parse(Some("EEA"), None, None, None).unwrap();
        assert!(eea.admits(&seat("NO", "standard", "cpu", None)));
        let uk = Placement::parse(Some("UK"), None, None, None).unwrap();
        assert!(uk.admits(&seat("GB", "standard", "cpu", None)));
        let named = Placement::parse(Some("eu-west, US"), None, None, None).unwrap();
        assert!(named.admits(&seat("eu-west", "standard", "cpu", None)));
        assert!(named.admits(&seat("us", "standard", "cpu", None)));
        assert!(!named.admits(&seat("eu-west-2", "standard", "cpu", None)));
    }

    #[test]
    fn classes_models_and_memory_are_checked_in_turn() {
        let job =
            Placement::parse(None, Some("gpu-standard, gpu-fast"), None, Some(20_000)).unwrap();
        let fast = seat("DE", "gpu-fast", "rtx4090", Some(24_564));
        let small = seat("DE", "gpu-standard", "rtx3060", Some(12_288));
        let cpu = seat("DE", "gpu-standard", "cpu", None);
        assert!(job.admits(&fast));
        assert_eq!(job.unmet(&small), Some(Unmet::Vram));
        assert_eq!(
            job.unmet(&cpu),
            Some(Unmet::Vram),
            "a CPU has no GPU memory"
        );
        assert_eq!(
            job.unmet(&seat("DE", "cpu-cheap", "cpu", None)),
            Some(Unmet::NodeClass)
        );
        assert_eq!(job.preference(&fast), 1);
        assert_eq!(job.preference(&small), 0);
        let model = Placement::parse(None, None, Some("RTX4090"), None).unwrap();
        assert!(model.admits(&fast));
        assert_eq!(model.unmet(&small), Some(Unmet::GpuModel));
        assert!(Placement::parse(None, None, None, Some(0)).is_err());
        assert!(
            Placement::parse(Some(" , "), Some(""), Some(" "), None)
                .unwrap()
                .is_anywhere()
        );
    }

    #[test]
    fn an_unplaceable_job_names_the_constraint() {
        let seats = [
            seat("DE", "standard", "cpu", None),
            seat("US", "gpu-fast", "rtx4090", Some(24_564)),
        ];
        let japan = Placement::parse(Some("JP"), None, None, None).unwrap();
        let why = japan.unplaceable(&seats).unwrap();
        assert!(why.contains("region JP") && why.contains("DE, US"), "{why}");
        let eu_fast = Placement::parse(Some("EU"), Some("gpu-fast"), None, None).unwrap();
        let why = eu_fast.unplaceable(&seats).unwrap();
        assert!(why.contains("together"), "{why}");
        let big = Placement::parse(None, None, None, Some(80_000)).unwrap();
        assert!(big.unplaceable(&seats).unwrap().contains("80000 MiB"));
        assert_eq!(
            Placement::parse(Some("EU"), None, None, None)
                .unwrap()
                .unplaceable(&seats),
            None
        );
        assert_eq!(
            Placement::default().unplaceable(&[]),
            None,
            "a job for anywhere waits for the first worker"
        );
    }
}
