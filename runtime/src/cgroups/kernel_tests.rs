//! Kernel tests (written next).
