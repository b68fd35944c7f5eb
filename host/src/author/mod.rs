//! What a plugin author uses: a scaffold to start from, and scenarios that
//! the real engine plays against expected actions.

pub mod adapter;
pub mod reader;
pub mod scaffold;
pub mod scenario;

pub use adapter::AdapterScenario;
pub use reader::ReaderScenario;
pub use scaffold::CannotScaffold;
pub use scenario::{BadScenario, Scenario, Verdict};
