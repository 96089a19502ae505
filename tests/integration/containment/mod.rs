//! What a plugin cannot reach, spend or say beyond its grant: other accounts' buckets and
//! budgets, hostile plugins and the credential scan, the local backend's confinement by
//! the OS, and a plugin's words reaching the operator inert.

mod audit_budget;
mod beyond_grant;
mod bucket_ownership;
mod hostile;
mod inert_output;
mod local_bounds;
mod local_confinement;
