/** The kinds tagged JSON tells apart, and so what a value is stored as without a definition (a record is a map). */
export type TaggedKind = "register" | "counter" | "text" | "map" | "list"
