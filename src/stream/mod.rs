//! `espy run`: the Kafka consumer that cuts each partition into segments, writes a closed
//! segment's objects and only then commits the offset after it.
