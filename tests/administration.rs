//! Administration of people, activation, integrators and the audit trail (tests follow).
