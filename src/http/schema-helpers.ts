import { z } from "zod";

/** A request body that refuses fields it does not know, naming them, so that a typo is not silently ignored. */
export function strictBody<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? `Unknown field(s): ${iss.keys.join(", ")}` : undefined),
  });
}

export const idParams = z.object({ id: z.string() });
