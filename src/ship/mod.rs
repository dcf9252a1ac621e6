//! Shipping: sending what tally has to other systems. [`carbon`] sends Graphite plaintext lines
//! to carbon receivers. Outputs take finished lines or points; what to send (etsy's flush of the
//! StatsD input, …) is decided by the agent.

pub mod carbon;
