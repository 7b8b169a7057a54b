//! Identities with least privilege: what a worker may do on the queue.

use std::fmt;
use std::sync::Arc;

use crate::Broker;

/// An identity to create on the broker and what it may do.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its name: the broker user (RabbitMQ), the sender its messages carry.
    pub user: String,
    /// Its password (RabbitMQ); chosen by the caller, at random.
    pub password: String,
    /// Queues it may consume from (and count).
    pub consume: Vec<String>,
    /// Queues it may publish to.
    pub publish: Vec<String>,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("user", &self.user)
            .field("password", &"***")
            .field("consume", &self.consume)
            .field("publish", &self.publish)
            .finish()
    }
}

/// How the identity a [`Grant`] made reaches the broker.
#[derive(Clone)]
pub enum Granted {
    /// Connect with this AMQP URL (the identity's credentials included).
    Url(String),
    /// A handle in this process, bound to the identity (embedded queue).
    InProcess(Arc<dyn Broker>),
}

impl fmt::Debug for Granted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granted::Url(url) => write!(f, "Url({})", crate::rabbitmq::redact(url)),
            Granted::InProcess(_) => f.write_str("InProcess"),
        }
    }
}
