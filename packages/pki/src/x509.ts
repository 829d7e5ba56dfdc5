// @peculiar/x509 finds its algorithms through tsyringe, which throws at load time unless the Reflect metadata API
// exists already: this module loads it first, and every other module takes x509 from here.
import "reflect-metadata";

export * from "@peculiar/x509";
