# Expected values for tests/unit/test_hotspots.c, from R's spdep (Debian bookworm r-cran-spdep 1.2-7).
# Regenerate:  cd tests/data/hotspots && Rscript make_expected.R
# (tests/cli/hotspots_r.sh runs this into a temporary folder and compares with the committed files.)
# Arguments are written out because spdep's defaults have changed between versions (hotspots.md).
suppressMessages({ library(sf); library(spdep) })
args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else "."
grid <- st_read("grid.geojson", quiet = TRUE)
tolerance_m <- 1e-6 # the same tolerance the C test gives hm_neighbours_queen
nb <- poly2nb(grid, queen = TRUE, snap = tolerance_m)
x <- grid$x

gi <- localG(x, nb2listw(include.self(nb), style = "B", zero.policy = TRUE), zero.policy = TRUE)
gi_z <- as.numeric(gi)
gi_p <- 2 * pnorm(abs(gi_z), lower.tail = FALSE)
lm <- localmoran(x, nb2listw(nb, style = "W", zero.policy = TRUE), zero.policy = TRUE,
                 conditional = TRUE, mlvar = TRUE, adjust.x = FALSE, alternative = "two.sided")
quadrant <- as.character(attr(lm, "quadr")$mean)
quadrant[card(nb) == 0] <- ""
neighbours <- sapply(seq_along(nb), function(i) {
  if (card(nb)[i] == 0) "" else paste(grid$code[nb[[i]]], collapse = ";")
})
expected <- data.frame(code = grid$code, x = x, neighbours = neighbours,
                       gi_z = gi_z, gi_p = gi_p, gi_q = p.adjust(gi_p, "BH"),
                       moran_i = lm[, 1], moran_e = lm[, 2], moran_var = lm[, 3], moran_z = lm[, 4],
                       moran_p = lm[, 5], quadrant = quadrant)
# Islands: spdep gives I = E = Var = 0 and Z = NaN; harmmap writes NaN (NULL) for all of them.
expected[card(nb) == 0, c("moran_i", "moran_e", "moran_var", "moran_z", "moran_p")] <- NaN
write.csv(format(expected, digits = 17), file.path(out_dir, "expected.csv"), row.names = FALSE, quote = TRUE)

# Change in counts between two periods (count_before in t_before, count_after in t_after).
cases <- data.frame(before = c(10, 3, 40, 0, 7, 120, 5, 12, 1000),
                    t_before = c(365, 90, 181, 30, 28, 365, 10, 12, 365),
                    after = c(25, 9, 20, 4, 7, 90, 0, 36, 1100),
                    t_after = c(365, 92, 184, 31, 31, 366, 10, 24, 366))
cases$p <- mapply(function(a, ta, b, tb) poisson.test(c(b, a), c(tb, ta))$p.value,
                  cases$before, cases$t_before, cases$after, cases$t_after)
cases$p_binom <- mapply(function(a, ta, b, tb) binom.test(b, a + b, tb / (ta + tb))$p.value,
                        cases$before, cases$t_before, cases$after, cases$t_after)
write.csv(format(cases, digits = 17), file.path(out_dir, "change_tests.csv"), row.names = FALSE, quote = TRUE)

# Benjamini-Hochberg on fixed p-values with ties and an NA.
p <- c(0.01, 0.04, 0.03, 0.04, 0.2, NA, 0.001, 0.5, 0.049)
write.csv(format(data.frame(p = p, q = p.adjust(p, "BH")), digits = 17), file.path(out_dir, "bh.csv"),
          row.names = FALSE, quote = TRUE)
cat("spdep", as.character(packageVersion("spdep")), "\n")
