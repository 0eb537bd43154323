//! Statistics. (Being written.)
