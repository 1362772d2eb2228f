import { defineProject } from "vitest/config"
import { defaultServerConditions } from "vite"

export default defineProject({
  ssr: { resolve: { conditions: ["source", ...defaultServerConditions] } },
  resolve: { conditions: ["source"] },
  test: {
    name: "dashboard",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    environment: "node",
  },
})
