"""Source keys for parameter provenance: the project's bibliography.

Each key maps to the full reference of a primary source (paper, drug label, handbook table, or a
secondary page where that is all that was read, said so in the text). Every config value, built-in
species value and validation target cites one of these keys or is an estimate with its reason.
The keys are listed with the configs citing them in docs/sources.md (generated from this dict);
the values, with the quotes or working they came from, are in the configs' notes,
docs/derivations.md (values computed from sourced numbers), docs/sources_practice.md (clinical
practice: dexamethasone, acetic acid, wearable patches, skin pH, tap-water iontophoresis) and
docs/sources_appendages.md (sweat ducts, palm skin, tap water).

PROJECT_KEYS name no publication: DERIVED (computed in this project; working in
docs/derivations.md), PROJECT_ESTIMATE and DEPTH_RULE_OF_THUMB.
"""

from __future__ import annotations

import difflib

SOURCES: dict[str, str] = {
    # ---- the project's own keys: values computed or chosen here, not read from a publication
    "DERIVED": "Derived in this project from the cited primary sources: computed, not printed in any source. "
    "The working, with the source keys it uses, is in docs/derivations.md (one section per value); a config "
    "cites DERIVED with those keys and names the section in its note",
    "PROJECT_ESTIMATE": "An estimate of this project where no published value was found: a choice inside a "
    "sourced range or an engineering assumption, not a measurement; the reasoning is in docs/derivations.md",
    "SANDBY2003": "Sandby-Møller J, Poulsen T, Wulf HC. Acta Derm Venereol 2003;83:410-413",
    "TSUGITA2013": "Tsugita T, Nishijima T, Kitahara T, Takema Y. Skin Res Technol, doi:10.1111/srt.12021",
    "JEB2019": "Dielectrical properties of living epidermis and dermis 1 kHz-1 MHz. J Electr Bioimp 2019;10:14",
    "XU2017": "Xu H et al. J Am Acad Dermatol 2017;77:1133-1144",
    "OLTULU2018": "Oltulu P et al. Turk J Plast Surg 2018;26:56-61",
    "CALCUTT2022": "Calcutt JJ, Anissimov YG et al. Pharm Res 2022, doi:10.1007/s11095-022-03215-z",
    "CALCUTT2019": "Calcutt JJ, Anissimov YG. Int J Pharm 2019;569:118547",
    "PHARMSCI_SKINCIRC": "Skin's circulatory system (textbook excerpt, pharmacologicalsciences.us)",
    "IYENGAR2018": "Iyengar S et al. Dermatol Surg 2018, doi:10.1097/DSS.0000000000001445",
    "KIRK_TABLE": "Kirk G. The Biogeochemistry of Submerged Soils, Table 2.3 (from Landolt)",
    "CRC_VANYSEK": "Vanýsek P. Ionic conductivity and diffusion at infinite dilution, CRC Handbook",
    "LAI1999": "Lai PM, Roberts MS. J Control Release 1999;58:323-333",
    "LIDDELL2011": "Liddell MR, Li SK, Higuchi WI. J Pharm Sci 2011;100:1475-1487",
    "MUDRY2007": "Mudry B, Carrupt P-A, Guy RH, Delgado-Charro MB. J Control Release 2007;122:165-172",
    "MUDRY2006": "Mudry B, Guy RH, Delgado-Charro MB. J Pharm Sci 2006;95:561-569",
    "PLIQUETT2004": "Pliquett U et al. Bioelectrochemistry 2004;65:27-32",
    "KRETSOS2005": "Kretsos K, Kasting GB. Skin Pharmacol Physiol 2005, doi:10.1159/000083706 (via secondary note)",
    "KRETSOS2008": "Kretsos K et al. Int J Pharm 2008;346:64-79, doi:10.1016/j.ijpharm.2007.06.020 (via "
    "secondary note)",
    "LI_AC_HEM": "Higuchi/Li group. Human epidermal membrane constant conductance iontophoresis (alternating current)",
    "LI_CCAC2003": "Constant-conductance AC iontophoresis of human epidermal membrane, PubMed 12695061",
    "MARRO2001": "Marro D et al. J Control Release 2001;70:213-217, doi:10.1016/s0168-3659(00)00350-3",
    "LUZARDO1998": "Luzardo-Alvarez A et al. Iontophoretic permselectivity of mammalian skin. Pharm Res "
    "1998;15:984-987",
    "PIKAL1990_II": "Pikal MJ, Shah S. Transport mechanisms in iontophoresis II. Pharm Res 1990;7:213-221",
    "PIKAL1990_III": "Pikal MJ, Shah S. Transport mechanisms in iontophoresis. III. An experimental study of "
    "the contributions of electroosmotic flow and permeability change in transport of low and high molecular "
    "weight solutes. Pharm Res 1990;7:222-229",
    "KIM1993": "Kim A et al. Convective solvent flow across the skin during iontophoresis. Pharm Res 1993",
    "GRATIERI2013": "Gratieri T, Kalia YN. Adv Drug Deliv Rev 2013;65:315-329",
    "SPRINGER_CH5": "Percutaneous Penetration Enhancers: Physical Methods, Springer 2017, ch. 5, "
    "doi:10.1007/978-3-662-53273-7_5",
    "KASTING_KEISTER1989": "Kasting GB, Keister JC. J Control Release 1989, doi:10.1016/0168-3659(89)90042-4",
    "KEISTER_KASTING1992": "Keister JC, Kasting GB. J Membr Sci 1992;71:257-271",
    "KASTING_BOWMAN1990": "Kasting GB, Bowman LA. Pharm Res 1990;7:1141-1146",
    "HIGUCHI_PE": "Mirror page with the K = zF dpsi/RT and Pe formulation (paper not identified)",
    "SIMS1990": "Sims SM, Higuchi WI. J Membr Sci 1990;49:305-320",
    "CHIZMADZHEV1998": "Chizmadzhev YA et al. Biophys J 1998;74:843-856",
    "CURDY2000": "Curdy C et al. AAPS PharmSci 2000;2(3):E23",
    "OH1993": "Oh SY et al. J Control Release 1993;27:115-125",
    "BMC2018_TABLE3": "Biomed Eng Online 2018, doi:10.1186/s12938-018-0473-9, Table 3 (Gabriel data)",
    "MYLES_OCULAR": "Myles ME, Loutsch JM, Higaki S, Hill JM. Ocular iontophoresis, CRC chapter, "
    "doi:10.1201/9780203912072-16",
    "TDCS_TEMP2017": "tDCS skin-temperature study, PMC5522650",
    "LIDOSITE_LABEL": "LidoSite Topical System label (B. Braun), DailyMed archive",
    "IONSYS_LABEL": "IONSYS (fentanyl iontophoretic transdermal system) US prescribing information / EU SmPC",
    "IONSYS_170UA": "Fentanyl ITS pharmacokinetic study at 140/170/200/230 uA (Phipps et al., Expert Opin Drug "
    "Metab Toxicol 2015)",
    "KOO2005": "Koo PJS. Postoperative pain management with a patient-controlled transdermal delivery system "
    "for fentanyl. Am J Health Syst Pharm 2005;62:1171-1176",
    "ETRANS1998": "Fentanyl delivery from an electrotransport system: delivery is a function of total current, "
    "1998, PMID 9807977",
    "ASHBURN1995": "Ashburn MA et al. Anesthesiology 1995;82:1146-1153",
    "ASHBURN1997": "Ashburn MA et al. Clin J Pain 1997;13:22-26",
    "SALIBA2011": "Saliba SA et al. Pharmaceutics 2011;3:923",
    "NORTHSTAR_PED": "Percutaneous lidocaine administration via a new iontophoresis system in children (1.78 "
    "mA, 10 min)",
    "BRETTI2015": "Bretti C et al. Eur J Pharm Sci 2015 (adrenaline acid-base properties), PMID 26122929",
    "CLINICALGATE_LA": "Local anesthetic agents: pharmacology, Table 116-1 (clinicalgate.com)",
    "LIDO_PPB": "Factors influencing serum protein binding of lidocaine in humans",
    "FENT_PPB1981": "Plasma protein binding of fentanyl. J Pharm Pharmacol 1981;33:507-514",
    "XENOBIOTICA2015": "Xenobiotica 2015;45:207-212 (fentanyl binding), PubMed 25314012",
    "KLEIN_LIDO": "Klein JA. Tumescent Technique, ch. 17 (pharmacology of lidocaine)",
    "SMOLECULE": "smolecule.com product s533127 (lidocaine MW 234.34)",
    "XE133_CUTANEOUS": "133Xe washout, cutaneous blood flow (Scilit record)",
    "BERNARDS1999": "Bernards CM, Kopacz DJ. Anesthesiology 1999;91:962",
    "RAT_NBF": "Rat sciatic nerve blood flow after local anesthetics/epinephrine (Scilit record)",
    "MORGAN_MIKHAIL": "Morgan & Mikhail's Clinical Anesthesiology (AccessAnesthesiology)",
    "RIVIERE1991": "Riviere JE group. Effects of vasoactive drugs on transdermal lidocaine iontophoresis",
    "RIVIERE1992": "Riviere JE group. Determination of lidocaine concentrations in skin after transdermal "
    "iontophoresis. Pharm Res 1992;9:211-214",
    "OHMAN1994": "Öhman H, Vahlquist A. Acta Derm Venereol 1994;74:375-379",
    "SKINPHARMACOL1995": "Noninvasive investigation of human skin after in vivo iontophoresis. Skin Pharmacol "
    "1995;8:229-236",
    "MINHAS2010": "Minhas P et al. J Neurosci Methods 2010;190:188-197",
    "AGCL_WIKI": "Silver chloride electrode (encyclopedia mirrors)",
    "COMPEX_ELECTROLYSIS": "Compex professional: iontophoresis/electrolysis page (general description)",
    # -- docs/sources_practice.md
    "DEXSP_LABEL": "Dexamethasone Sodium Phosphate Injection USP label (Cardinal Health), DailyMed "
    "setid 8ed678e2-8a6a-418d-af99-af46d54ae5c4: C22H28FNa2O8P, MW 516.41; 4.37 mg salt = 4 mg "
    "dexamethasone phosphate per mL; pH 7 to 8.5",
    "SYLVESTRE2008": "Sylvestre JP, Guy RH, Delgado-Charro MB. In vitro optimization of dexamethasone phosphate "
    "delivery by iontophoresis. Phys Ther 2008;88(10):1177-1185, doi:10.2522/ptj.20080043 (PMC2557054)",
    "DEXP_CL_JCR2008": "Chloride competition from a Ag/AgCl cathode on dexamethasone phosphate iontophoresis, "
    "J Control Release 2008 (authors not shown in the copy read; daneshyari.com/en/article/1426472)",
    "ANDERSON2003": "Anderson CR, Morris RL, Boeh SD, Panus PC, Sembrowich WL. Effects of iontophoresis current "
    "magnitude and duration on dexamethasone deposition and localized drug retention. Phys Ther 2003;83:161-170",
    "GURNEY2008": "The effect of skin thickness and time in the absorption of dexamethasone in human tendons using "
    "iontophoresis. J Orthop Sports Phys Ther 2008;38(5):238-245, PubMed 18448879 (abstract)",
    "GLASS1980_SECONDARY": "Monkey tritiated dexamethasone sodium phosphate iontophoresis, attributed to Glass JM, "
    "Stephen RL, Jacobson SC 1980 (secondary page isokineticsinc.com/category/abstract5, which does not name the "
    "paper: attributed by its content; verify before citing)",
    "NIRSCHL2003": "Nirschl RP et al. Am J Sports Med 2003;31(2):189-195, doi:10.1177/03635465030310020601",
    "DALUZ2019": "da Luz DC et al. J Shoulder Elbow Surg 2019;28(9):1743-1749, doi:10.1016/j.jse.2019.05.020",
    "PERRON1997": "Perron M, Malouin F. Arch Phys Med Rehabil 1997;78(4):379-384, doi:10.1016/s0003-9993(97)90229-x",
    "FERNANDEZCUADROS2016": "Fernandez Cuadros ME et al. Middle East J Rehabil Health Stud 2016;3(4):e41112, "
    "doi:10.17795/mejrh-41112",
    "FERNANDEZCUADROS2020": "Fernandez Cuadros ME et al. Rev Soc Esp Dolor 2020, doi:10.20986/resed.2020.3842/2020",
    "LEDUC2003": "Leduc BE, Caya J, Tremblay S, Bureau NJ, Dumont M. Arch Phys Med Rehabil 2003;84(10):1523-1527",
    "LANGE_T832": "Lange's Handbook of Chemistry, 15th ed., Table 8.32 p. 997 (limiting ionic conductances, 25 C), "
    "as transcribed in github.com/swharden/LJPcalc src/IonTable.md",
    "AQION_PKA": "aqion.de 'Organic Acids and Salts' table (pKa at 25 C), https://www.aqion.de/sd/178?page=3",
    "MEMBRANES2021_T1": "Membranes 2021;11(5):331, doi:10.3390/membranes11050331, Table 1 (measured aqueous D "
    "at 37 C, from the cited primary papers)",
    "SIEGEL2007": "Siegel SJ, O'Neill C, Dube LM, et al. Pharm Res 2007;24(10):1919-1926, "
    "doi:10.1007/s11095-007-9317-1",
    "PATEL2007": "Patel SR, Zhong H, Sharma A, Kalia YN. Eur J Pharm Biopharm 2007;66:296-301",
    "ZECUITY_LABEL": "ZECUITY (sumatriptan iontophoretic transdermal system) prescribing information (drugs.com copy)",
    "ACTIVAPATCH_VENDOR": "ActivaPatch IntelliDose 2.5 how-to (vendor text), "
    "news.meyerpt.com/physical-therapists/misc/activapatch-iontophoresis-works/",
    "IONTOPATCH_VENDOR": "IontoPatch technical overview (vendor), "
    "iontopatch.com/how-iontopatch-works/technical-overview",
    "NCT00794976": "Travanti Pharma, dexamethasone iontophoretic patch for lateral epicondylitis, ClinicalTrials.gov "
    "NCT00794976 (design only)",
    "MURAHATA1988": "Murahata RI, Toton-Quinn R, Finkey MB. J Am Acad Dermatol 1988;18(1 Pt 1):62-66, "
    "doi:10.1016/s0190-9622(88)70010-9",
    "HWANG2022": "Hwang JH, Lee S, Lee HG, Choi D, Lim KM. Toxics 2022;10(10):558, doi:10.3390/toxics10100558",
    "AKBAR2013": "Akbar TM, Saqib MA, Fahim S, Nasir M, Nabi H. J Pak Assoc Dermatol 2013;23(3):304-309",
    "KIM2017_TWI": "Kim, Kim, Lee & Lee. Ann Dermatol 2017;29(6), tap water iontophoresis RCT, "
    "synapse.koreamed.org/articles/1096670",
    "KARAKOC_DC": "Karakoc Y et al. Placebo-controlled evaluation of direct electrical current administration for "
    "palmoplantar hyperhidrosis (journal/year not captured; abstract at discovery.researcher.life/article/"
    "placebo-controlled-evaluation-of-direct-electrical-current-administration-for-palmoplantar-hyperhidrosis/"
    "028130ae3f7d3a2eb69e383291d8d2c9)",
    "RAFISCHER_VENDOR": "R.A. Fischer (device vendor), vendor text: desired amperage '10 to 18 milliamps', "
    "treatments every 2-3 days for 5-10 sessions (the page address was not recorded)",
    "HIDREX1994": "HIDREX GmbH. Modification and optimisation of tap water iontophoresis (1994, vendor study page), "
    "hidrex-therapy.com/studies/modification-and-optimisation-of-tap-water-iontophoresis-pdf-de-1994/",
    "SHRIVASTAVA1977": "Shrivastava SN, Singh G. Br J Dermatol 1977, doi:10.1111/j.1365-2133.1977.tb12542.x",
    # appendages and tap water (docs/sources_appendages.md)
    "TAYLOR2013": "Taylor NAS, Machado-Moreira CA. Extreme Physiol Med 2013;2:4, doi:10.1186/2046-7648-2-4, Table 2",
    "EGAWA2007": "Egawa M, Hirao T, Takahashi M. Acta Derm Venereol 2007;87(1):4-8 (Raman SC thickness in vivo)",
    "PHARMSCI_APPENDAGES": "Skin appendages (textbook excerpt), "
    "pharmacologicalsciences.us/elderly-patients/skin-appendages.html",
    "SCOTT1993_AC": "Scott ER, White HS, Phipps JB. Anal Chem 1993;65:1537-1545 (scanning electrochemical "
    "microscopy of iontophoretic fluxes through skin; follicle 'diameters on the order of tens of microns')",
    "STATPEARLS_HAIR": "Anatomy, Hair Follicle. StatPearls (NBK470321), updated 22 June 2024, "
    "ncbi.nlm.nih.gov/books/NBK470321 (vellus follicles 'extend only to the upper reticular dermis')",
    "KATTOU2017": "Kattou P, Lian G, Glavin S, Sorrell I, Chen T. Development of a two-dimensional model for "
    "predicting transdermal permeation with the follicular pathway. Pharm Res 2017 (follicle as diffusion in sebum)",
    "SCOTT1993_PR": "Scott ER et al. Pharm Res 1993;10(12):1699-1709, doi:10.1023/a:1018909811672",
    "SATO1993_TWI": "Sato K et al. Generation and transit pathway of H+ is critical for inhibition of palmar sweating "
    "by iontophoresis in water (J Appl Physiol 1993;75:2258-2264, journal to verify)",
    "DK_WATER2015": "BMJ Open 2015;5:e007385, Table 1 (Danish drinking water composition), "
    "pmc.ncbi.nlm.nih.gov/articles/PMC4420976",
    # validation data (iontosim/validation/cases/; the quotes are in the case files)
    "DRAPER2011": "Draper DO, Coglianese M, Castel C. Absorption of iontophoresis-driven 2% lidocaine with epinephrine "
    "in the tissues at 5 mm below the surface of the skin. J Athl Train 2011;46(3):277-281, "
    "doi:10.4085/1062-6050-46.3.277, pmc.ncbi.nlm.nih.gov/articles/PMC3419556",
    "COGLIANESE2011": "Coglianese M, Draper DO, Shurtz J, Mark G. Microdialysis and delivery of iontophoresis-driven "
    "lidocaine into the human gastrocnemius muscle. J Athl Train 2011;46(3):270-276 "
    "(biomedsearch.com copy and sportsmedres.org summary)",
    "FRIEDMANN1988": "Friedmann B, Stilla U, Meyer-Waarden K. Beitrag zur Iontophorese. Biomed Technik 1988;33:2-6, "
    "English abstract at stilla.de/pub/usti_bmt88_abs.html",
    "DEPTH_RULE_OF_THUMB": "A modelling rule of thumb, not a publication: ions 'are usually considered to "
    "penetrate less than about 1 mm before local capillaries carry them off', deeper presence being attributed "
    "to circulation. No primary source was found for the number; the depth findings that were found are "
    "RIVIERE1992 (lidocaine raised down to 3 mm in pigs), COGLIANESE2011 and DRAPER2011 (detected at 3 and 5 mm "
    "in the human calf) and a vendor's 'at least 1 cm' (IONTOPATCH_VENDOR)",
    "ZEMPSKY2004": "Zempsky WT, Sullivan J, Paulson DM, Hoath SB. Clin Ther 2004;26(7):1110-1119, "
    "doi:10.1016/s0149-2918(04)90183-x (LidoSite trial, n = 548)",
    # ---- the lipid route, moving pH, Franz cells (issue 13); read as abstracts, labels, data pages
    "POTTS_GUY1992": "Potts RO, Guy RH. Predicting skin permeability. Pharm Res 1992;9:663-669: log kp [cm/h] = "
    "-2.72 + 0.71 log Kow - 0.0061 MW (coefficients as reproduced in public analysis code)",
    "MITRAGOTRI2002": "Mitragotri S. A theoretical analysis of permeation of small hydrophobic solutes across the "
    "stratum corneum based on scaled particle theory. J Pharm Sci 2002;91:744-752, doi:10.1002/jps.10048",
    "LIAN2008": "Lian G, Chen L, Han L. An evaluation of mathematical models for predicting skin permeability. "
    "J Pharm Sci 2008;97:584-598, doi:10.1002/jps.21074",
    "BICARBONATE_HH": "The bicarbonate buffer of extracellular fluid, Henderson-Hasselbalch pH = 6.1 + "
    "log10([HCO3-]/(0.03 PCO2)): pKa 6.1 at body temperature, plasma [HCO3-] 22-26 mEq/L (24 normal); "
    "textbook acid-base physiology (Harper's Illustrated Biochemistry, 32nd ed., as quoted by review material)",
    "ARDILOUZE2004": "Ardilouze JL, Karpe F, Currie JM, Frayn KN, Fielding BA. Subcutaneous adipose tissue blood "
    "flow varies between superior and inferior levels of the anterior abdominal wall. Int J Obes 2004;28:228-233, "
    "doi:10.1038/sj.ijo.0802541: fasting 133Xe washout 4.4 +- 0.3 (upper) and 3.8 +- 0.2 (lower) mL/min/100 g",
    "DEXSP_INJECTION_FK": "Dexamethasone Sodium Phosphate Injection, USP (Fresenius Kabi) label, DailyMed setid "
    "4fedef4f-ec96-4f36-b2f0-01e243e3b89e: per mL dexamethasone sodium phosphate equivalent to 4 mg "
    "dexamethasone phosphate; benzyl alcohol 10 mg; sodium citrate dihydrate 11 mg; sodium sulfite 1 mg; "
    "pH 7.0 to 8.5",
    "BATES_PINCHING1949": "Bates RG, Pinching GD. J Am Chem Soc 1949;71:1274: the thermodynamic dissociation "
    "constants of citric acid (pK 3.13, 4.76, 6.40 at 25 C as tabulated since)",
    "LIDOCAINE_AXON_EC50": "Differential nerve block: direct measurements on individual myelinated and "
    "unmyelinated dorsal root axons. Anesthesiology 1996;84(6):1455: steady-state EC50 of lidocaine conduction "
    "block 232 uM (myelinated) and 228 uM (unmyelinated) dorsal root axons of the rat, in vitro at 37 C",
    "GELTHEORY": "Theory of diffusion in gels (title and abstract read at biocloudy.com/literatureDetail/"
    "NDIxNDA0MQ==; authors, journal and year not shown there): in a gel Fick's laws hold with "
    "D' = D (1 - alpha phi)/(1 - phi), phi the volume fraction of the gel substance, alpha = 5/3 for "
    "randomly oriented rods",
    "SC_CORNEOCYTES": "Stratum corneum structure, book chapter doi:10.4324/9780203912867-11 (Taylor & Francis): "
    "'corneocyte cells (80-90 vol %) are embedded in a lipid matrix'",
    "SIRIUS_LOGP": "Sirius Analytical, methods of measuring log P (pH-metric): 'the log P of Lidocaine has been "
    "measured, with a result of 2.30', sirius-analytical.com/science/log-p/methods-measuring-log-p",
    "FENTANYL_LOGP": "Fentanyl property table of a review (encyclopedia.pub entry 43417) citing DrugBank: log P "
    "4.05 (experimental); consistent with the IONSYS label's octanol:water 860:1 as the pH 7.4 value at pKa 8.4",
    "KUSHLA1991": "Kushla GP, Zatz JL. Influence of pH on lidocaine penetration through human and hairless "
    "mouse skin in vitro. Int J Pharm 1991;71:167-173 (EDETOX database in vitro studies 1107 and 1110, "
    "apps.ncl.ac.uk/edetox/invitrodetails.aspx?id=1107)",
    "ROY1989": "Roy SD, Flynn GL. Transdermal delivery of narcotic analgesics: comparative permeabilities of "
    "narcotic analgesics through human cadaver skin. Pharm Res 1989;6:825-832, doi:10.1023/A:1015944018555",
    "ROY1989_PKA": "Roy SD, Flynn GL. Solubility behavior of narcotic analgesics in aqueous media. Pharm Res "
    "1989;6:147-151, doi:10.1023/A:1015932610010",
    "ROY1990": "Roy SD, Flynn GL. Transdermal delivery of narcotic analgesics: pH, anatomical, and subject "
    "influences on cutaneous permeability of fentanyl and sufentanil. Pharm Res 1990;7:842-847",
    "LARSEN2003": "Larsen RH, Nielsen F, Sørensen JA, Nielsen JB. Dermal penetration of fentanyl: inter- and "
    "intraindividual variations. Pharmacol Toxicol 2003;93:244-248, doi:10.1046/j.1600-0773.2003.pto930508.x",
    "SIDDIQUI1985": "Siddiqui O, Roberts MS, Polack AE. The effect of iontophoresis and vehicle pH on the "
    "in-vitro permeation of lignocaine through human stratum corneum. J Pharm Pharmacol 1985;37:732-735, "
    "doi:10.1111/j.2042-7158.1985.tb04954.x, PubMed 2867145",
    "SYLVESTRE2008_JCR": "Sylvestre JP, Díaz-Marín C, Delgado-Charro MB, Guy RH. Iontophoresis of dexamethasone "
    "phosphate: competition with chloride ions. J Control Release 2008;131:41-46",
    "MARRO2001_JCR": "Marro D, Guy RH, Delgado-Charro MB. Characterization of the iontophoretic "
    "permselectivity properties of human and pig skin. J Control Release 2001;70:213-217, "
    "doi:10.1016/s0168-3659(00)00350-3 (the paper of MARRO2001)",
    "JOHNSON1996": "Johnson EM, Berk DA, Jain RK, Deen WM. Hindered diffusion in agarose gels: test of effective "
    "medium model. Biophys J 1996;70:1017-1026",
    "WAGNER2003": "Wagner H, Kostka KH, Lehr CM, Schaefer UF. pH profiles in human skin: influence of two in "
    "vitro test systems for drug delivery testing. Eur J Pharm Biopharm 2003;55:57-65",
    "MANJ2018": "Manjunatha RG, Sharma S, Narayan RP, Koul V. Effective permeation of 2.5 and 5% lidocaine "
    "hydrochloride in human skin using iontophoresis technique. Int J Dermatol 2018, doi:10.1111/ijd.14107",
    # ---- in vivo / clinical validation datasets (val_b)
    "LIDODERM_LABEL": "LIDODERM (lidocaine patch 5%) US prescribing information (Endo Pharmaceuticals; Teikoku "
    "Seiyaku): 10 x 14 cm patch, 700 mg lidocaine at 50 mg per gram adhesive; Table 1, three patches on 420 cm2 "
    "for 12 h (n = 15): dose absorbed 64 +/- 32 mg, Cmax 0.13 +/- 0.06 ug/mL, Tmax 11 h. Read on copies at "
    "drugs-library.com/drugs/lidoderm_d499efc5.html and theswissbay.ch (PDR 2003); Table 1 on "
    "kembeo.com/how-many-lidocaine-patches-can-i-wear-1659633240",
    "GAMMAITONI2002": "Gammaitoni AR, Davis MW. Pharmacokinetics and tolerability of lidocaine patch 5% with "
    "extended dosing. Ann Pharmacother 2002;36(2):236-240, doi:10.1345/aph.1A185 (abstract, PubMed 11847940)",
    "SATHYAN2005_FREQ": "Sathyan G, Zomorodi K, Gidwani S, Gupta S. The effect of dosing frequency on the "
    "pharmacokinetics of a fentanyl HCl patient-controlled transdermal system (PCTS). Clin Pharmacokinet "
    "2005;44 Suppl 1:17-24 (abstract, metajournal.com/articles/631400)",
    "LUZ2003": "In vivo iontophoretic administration of ropinirole hydrochloride. J Pharm Sci 2003;92(12):"
    "2441-2448, doi:10.1002/jps.10502 (abstract, pubmed.gov/14603489; authors not shown on the page read, "
    "presumably Luzardo-Alvarez A, Delgado-Charro MB, Blanco-Mendez J, of the in vitro study "
    "doi:10.1023/a:1013322613436)",
    "LUZ2001": "Luzardo-Alvarez A, Delgado-Charro MB, Blanco-Mendez J. Iontophoretic delivery of ropinirole "
    "hydrochloride: effect of current density and vehicle formulation. Pharm Res 2001;18, "
    "doi:10.1023/a:1013322613436 (abstract, bohrium.dp.tech/paper/arxiv/812431096393236480)",
}


#: the keys that name no publication: values derived or estimated in this project, and a rule of thumb
PROJECT_KEYS = frozenset({"DERIVED", "PROJECT_ESTIMATE", "DEPTH_RULE_OF_THUMB"})


def check_source(key: str) -> str:
    """Return ``key`` if it is a known source key, else raise KeyError naming close matches."""
    if key in SOURCES:
        return key
    close = difflib.get_close_matches(str(key), SOURCES, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see iontosim/library/sources.py"
    raise KeyError(f"unknown source key {key!r}{hint}")
