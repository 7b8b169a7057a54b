//! What the database benches share: an honest worker's events for one
//! task.

use coordinator::db::{Db, Policy, QueuedTask, Sender};
use protocol::{FrameDone, GrantObject, GrantRequest, JobId, RenderDevice, WorkerEvent, WorkerId};

/// `worker` renders `task` as an honest worker reports it: start, two
/// grant requests, frame, done. Returns how many events were applied.
pub fn render(db: &Db, task: &QueuedTask, worker: WorkerId, job: JobId) -> u64 {
    let (policy, sender, message) = (Policy::default(), Sender::worker(worker), &task.message);
    let frame = message.frames[0];
    let start = WorkerEvent::TaskStarted {
        task_id: message.task_id,
        attempt: message.attempt,
        worker,
        redelivered: false,
    };
    db.apply_event(&start, sender, &policy).expect("applied");
    let mut key = String::new();
    for object in [GrantObject::Scene, GrantObject::Frame { frame }] {
        let request = WorkerEvent::GrantRequest(GrantRequest {
            task_id: message.task_id,
            attempt: message.attempt,
            worker,
            object,
        });
        let followup = db.apply_event(&request, sender, &policy).expect("applied");
        key = followup.grants.first().expect("granted").key.clone();
    }
    let done = WorkerEvent::FrameDone(FrameDone {
        task_id: message.task_id,
        attempt: message.attempt,
        job_id: job,
        frame,
        replica: 0,
        worker,
        object_key: key,
        pixel_hash: "00".repeat(32),
        render_seconds: 1.0,
        width: 1920,
        height: 1080,
        bytes: 1 << 20,
        device: RenderDevice::Cpu,
    });
    db.apply_event(&done, sender, &policy).expect("applied");
    let end = WorkerEvent::TaskDone {
        task_id: message.task_id,
        attempt: message.attempt,
        worker,
    };
    db.apply_event(&end, sender, &policy).expect("applied");
    5
}
