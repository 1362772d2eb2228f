import { defineProject } from "vitest/config"
import { defaultServerConditions } from "vite"

export default defineProject({
  ssr: { resolve: { conditions: ["source", ...defaultServerConditions] } },
  resolve: { conditions: ["source"] },
  test: {
    name: "integration",
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "bench/**"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // These tests run real processes, sockets and Chromium on a shared 2-core machine: one retry absorbs
    // a scheduling stall; a real failure still fails twice.
    retry: process.env.CI ? 1 : 0,
  },
})
