// Validates an XML document against an XML Schema (XSD 1.0) with the
// JDK's own validator, reporting every error with its line and column.
// Used by scripts/csdl-check with OASIS's CSDL schemas (edmx.xsd, which
// imports edm.xsd). Usage: java ValidateXsd.java SCHEMA.xsd FILE.xml
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import javax.xml.XMLConstants;
import javax.xml.transform.stream.StreamSource;
import javax.xml.validation.SchemaFactory;
import javax.xml.validation.Validator;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXParseException;

public class ValidateXsd {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: java ValidateXsd.java SCHEMA.xsd FILE.xml");
            System.exit(2);
        }
        SchemaFactory factory = SchemaFactory.newInstance(XMLConstants.W3C_XML_SCHEMA_NS_URI);
        Validator validator = factory.newSchema(new File(args[0])).newValidator();
        List<String> errors = new ArrayList<>();
        validator.setErrorHandler(new ErrorHandler() {
            public void warning(SAXParseException e) {}
            public void error(SAXParseException e) { errors.add(describe(e)); }
            public void fatalError(SAXParseException e) { errors.add(describe(e)); }
        });
        try {
            validator.validate(new StreamSource(new File(args[1])));
        } catch (SAXParseException e) {
            // already recorded by fatalError
        }
        for (String e : errors) {
            System.err.println("xsd: " + e);
        }
        if (!errors.isEmpty()) {
            System.exit(1);
        }
        System.out.println("xsd: valid against " + args[0]);
    }

    static String describe(SAXParseException e) {
        return "line " + e.getLineNumber() + ", column " + e.getColumnNumber() + ": " + e.getMessage();
    }
}
