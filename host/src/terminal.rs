//! The operator's terminal, apart from the core: colour and width ([`colour`]), stderr
//! beneath a progress bar ([`stderr`]), the run's progress ([`progress`]), the signals
//! that stop a run ([`stop`]), and the report as a table ([`table`]).

pub mod colour;
pub mod progress;
pub mod stderr;
pub mod stop;
pub mod table;

pub use colour::{ColorChoice, stdout_width};
pub use stderr::{Stderr, hide_bar, show_bar};
pub use table::{Look, ReportText};
