import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/core", "packages/node", "packages/web", "packages/dashboard", "packages/cli", "test"],
  },
})
