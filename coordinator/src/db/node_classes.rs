//! Node classes: what an admin sells (`gpu-fast`, `cpu-cheap`), each with
//! the device it renders on, a price per verified frame-second with an
//! optional minimum per frame, and a speed score. Enrollment tokens grant
//! workers classes only from this list, jobs ask for classes from it, and
//! a frame is billed at the class price of the worker that rendered it
//! when it rendered on the class's device.

use protocol::{RenderDevice, now_ms};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Db, DbError};
use crate::money::Money;

/// A node class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeClass {
    /// Its name (`gpu-fast`).
    pub name: String,
    /// What its workers render on: `cpu`, or `gpu` (a job on a GPU class
    /// renders with CUDA or OptiX).
    pub device: RenderDevice,
    /// Price per render second of a frame, in micro-units; absent, frames
    /// are billed at the device class rates of the configuration.
    #[serde(default)]
    pub price_micros_per_second: Option<Money>,
    /// Least a frame costs on it, in micro-units.
    #[serde(default)]
    pub min_micros_per_frame: Money,
    /// Its speed relative to the others (2.0 renders twice as fast as
    /// 1.0); estimates scale render times by it for a class without
    /// history.
    #[serde(default = "unit_speed")]
    pub speed_score: f64,
    /// Slowest render of the registration benchmark frame that still earns
    /// the class, in seconds; absent, no benchmark is asked for.
    #[serde(default)]
    pub benchmark_max_secs: Option<f64>,
    /// What it is, for buyers.
    #[serde(default)]
    pub description: String,
}

/// The speed score of a class that gives none.
fn unit_speed() -> f64 {
    1.0
}

/// The price a copy is billed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyPrice {
    /// Per hour of render time.
    pub per_hour: Money,
    /// Least the copy costs.
    pub minimum: Money,
}

impl CopyPrice {
    /// What `render_ms` milliseconds cost at this price.
    pub fn cost(self, render_ms: i64) -> Result<Money, crate::money::MoneyOverflow> {
        Ok(self.per_hour.per_hour_for_ms(render_ms)?.max(self.minimum))
    }
}

/// The row's columns, in [`NodeClass`] order.
const COLUMNS: &str = "name, device, price_micros_per_second, min_micros_per_frame, speed_score, \
                       benchmark_max_ms, description";

/// A node class from a row selected with [`COLUMNS`].
fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NodeClass> {
    let device: String = r.get(1)?;
    let benchmark_ms: Option<i64> = r.get(5)?;
    Ok(NodeClass {
        name: r.get(0)?,
        device: if device == "gpu" {
            RenderDevice::Gpu
        } else {
            RenderDevice::Cpu
        },
        price_micros_per_second: r.get::<_, Option<i64>>(2)?.map(Money),
        min_micros_per_frame: Money(r.get(3)?),
        speed_score: r.get(4)?,
        benchmark_max_secs: benchmark_ms.map(|ms| ms as f64 / 1000.0),
        description: r.get(6)?,
    })
}

/// The class `name`, if defined.
pub(super) fn class_named(conn: &Connection, name: &str) -> Result<Option<NodeClass>, DbError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM node_classes WHERE name = ?1"
        ))?
        .query_row([name], from_row)
        .optional()?)
}

/// Whether any of `classes` renders on GPUs.
pub(super) fn any_gpu(conn: &Connection, classes: &[String]) -> Result<bool, DbError> {
    for class in classes {
        if class_named(conn, class)?.is_some_and(|c| c.device == RenderDevice::Gpu) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a copy rendered by a worker of node class `class` on `device` is
/// billed at, when the class has a price and the copy rendered on the
/// class's device (a GPU class's worker rendering on its CPU is billed by
/// the device rates, as any CPU render is); `None` otherwise.
pub(super) fn class_price(
    conn: &Connection,
    class: &str,
    device: RenderDevice,
) -> Result<Option<CopyPrice>, DbError> {
    let Some(class) = class_named(conn, class)? else {
        return Ok(None);
    };
    let Some(per_second) = class.price_micros_per_second else {
        return Ok(None);
    };
    if class.device == RenderDevice::Gpu && device != RenderDevice::Gpu {
        return Ok(None);
    }
    let per_hour = per_second
        .micros()
        .checked_mul(3600)
        .map(Money)
        .ok_or(crate::money::MoneyOverflow("a class price per hour"))?;
    Ok(Some(CopyPrice {
        per_hour,
        minimum: class.min_micros_per_frame,
    }))
}

impl Db {
    /// Every node class, by name.
    pub fn node_classes(&self) -> Result<Vec<NodeClass>, DbError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM node_classes ORDER BY name"))?;
        let classes = stmt
            .query_map([], from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(classes)
    }

    /// The class `name`, if defined.
    pub fn node_class(&self, name: &str) -> Result<Option<NodeClass>, DbError> {
        class_named(&self.lock(), name)
    }

    /// Define or redefine a class. Frames already rendered keep the price
    /// they were billed at.
    pub fn put_node_class(&self, class: &NodeClass) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO node_classes (name, device, price_micros_per_second, min_micros_per_frame, \
             speed_score, benchmark_max_ms, description, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (name) DO UPDATE SET device = ?2, price_micros_per_second = ?3, \
             min_micros_per_frame = ?4, speed_score = ?5, benchmark_max_ms = ?6, description = ?7, \
             updated_ms = ?8",
            params![
                class.name,
                class.device.as_str(),
                class.price_micros_per_second.map(Money::micros),
                class.min_micros_per_frame.micros(),
                class.speed_score,
                class
                    .benchmark_max_secs
                    .map(|secs| (secs * 1000.0).round() as i64),
                class.description,
                now_ms(),
            ],
        )?;
        Ok(())
    }

    /// Define `class` unless a class of its name exists (configuration
    /// seeds never overwrite what an admin set through the API).
    pub fn seed_node_class(&self, class: &NodeClass) -> Result<(), DbError> {
        if self.node_class(&class.name)?.is_none() {
            self.put_node_class(class)?;
        }
        Ok(())
    }

    /// What still uses class `name`: enrollment tokens not revoked that
    /// grant it, and workers enrolled in it, as a sentence; `None` when
    /// nothing does.
    pub fn node_class_users(&self, name: &str) -> Result<Option<String>, DbError> {
        let conn = self.lock();
        let enrollments: i64 = conn.query_row(
            "SELECT COUNT(*) FROM enrollments, json_each(enrollments.node_classes) c \
             WHERE revoked_ms IS NULL AND c.value = ?1",
            [name],
            |r| r.get(0),
        )?;
        let workers: i64 = conn.query_row(
            "SELECT COUNT(*) FROM workers WHERE node_class = ?1 AND blocklisted_ms IS NULL",
            [name],
            |r| r.get(0),
        )?;
        Ok((enrollments > 0 || workers > 0).then(|| {
            format!("{enrollments} enrollment token(s) not revoked and {workers} worker(s) use it")
        }))
    }

    /// Remove class `name` (the caller checked nothing uses it). Returns
    /// whether it existed.
    pub fn delete_node_class(&self, name: &str) -> Result<bool, DbError> {
        Ok(self
            .lock()
            .execute("DELETE FROM node_classes WHERE name = ?1", [name])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, device: RenderDevice, per_second: Option<i64>) -> NodeClass {
        NodeClass {
            name: name.into(),
            device,
            price_micros_per_second: per_second.map(Money),
            min_micros_per_frame: Money(5_000),
            speed_score: 4.0,
            benchmark_max_secs: Some(30.0),
            description: "fast".into(),
        }
    }

    #[test]
    fn classes_round_trip_and_seeds_never_overwrite() {
        let db = Db::in_memory().unwrap();
        let fast = class("gpu-fast", RenderDevice::Gpu, Some(400));
        db.put_node_class(&fast).unwrap();
        assert_eq!(db.node_class("gpu-fast").unwrap(), Some(fast.clone()));
        db.seed_node_class(&class("gpu-fast", RenderDevice::Cpu, None))
            .unwrap();
        assert_eq!(db.node_class("gpu-fast").unwrap(), Some(fast));
        assert!(db.delete_node_class("gpu-fast").unwrap());
        assert!(!db.delete_node_class("gpu-fast").unwrap());
    }

    #[test]
    fn a_gpu_class_price_applies_only_to_gpu_renders() {
        let db = Db::in_memory().unwrap();
        db.put_node_class(&class("gpu-fast", RenderDevice::Gpu, Some(400)))
            .unwrap();
        db.put_node_class(&class("flat", RenderDevice::Cpu, None))
            .unwrap();
        let conn = db.lock();
        let price = class_price(&conn, "gpu-fast", RenderDevice::Gpu)
            .unwrap()
            .unwrap();
        assert_eq!(price.per_hour, Money(1_440_000));
        // 10 s at 0.0004 a second is 0.004, under the 0.005 minimum.
        assert_eq!(price.cost(10_000).unwrap(), Money(5_000));
        assert_eq!(price.cost(100_000).unwrap(), Money(40_000));
        assert_eq!(
            class_price(&conn, "gpu-fast", RenderDevice::Cpu).unwrap(),
            None
        );
        assert_eq!(class_price(&conn, "flat", RenderDevice::Cpu).unwrap(), None);
        assert_eq!(class_price(&conn, "nope", RenderDevice::Cpu).unwrap(), None);
        assert!(any_gpu(&conn, &["flat".into(), "gpu-fast".into()]).unwrap());
        assert!(!any_gpu(&conn, &["flat".into()]).unwrap());
    }
}
