/** The two databases Mailroom runs on; migrations and the few dialect-specific statements branch on it. */
export type Dialect = "sqlite" | "postgres";
