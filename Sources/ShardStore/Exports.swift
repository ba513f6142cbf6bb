// The store's funnel to the file system, its JSON and its export files live in IO, below every
// module that reads or writes a file; users of the store see them through it.
@_exported import IO
