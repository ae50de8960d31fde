//! Where records become durable: writing finished objects to a folder or S3-compatible
//! storage through `object_store`, with create-only semantics where the store has them.
